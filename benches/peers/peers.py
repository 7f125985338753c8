#!/usr/bin/env python3
"""syndedup and three MinHash peers (datasketch, rensa, gaoya) side by side on one corpus.

    python peers.py --corpus DIR [--syndedup target/release/syndedup] [--cpu 0]

DIR holds articles.jsonl and gold.csv as written by `syndedup bench --write-corpus DIR`.
Every tool runs in a process of its own, pinned to one CPU with taskset when available, with the
same settings: 5-word shingles, 128 permutations, Jaccard threshold 0.5, and for the peers the
same LSH banding (32 bands of 4 rows). Each loads the corpus untimed, then the clock covers
tokenising, shingling, signing, querying the index, picking the best match at or above the
threshold (online, in arrival order, as syndedup does) and inserting. syndedup runs twice: at
threshold 0.5 like the peers (the ratios are to this run) and at its own defaults; its figure is
its `bench --input` end to end, which also includes JSON parsing. Peak memory is the child
process's maximum resident set (getrusage), corpus included, for every tool alike. F1 is
pairwise over the pairs the clusters imply, against gold.csv.
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from importlib import metadata

SHINGLE = 5
PERMS = 128
THRESHOLD = 0.5
BANDS, ROWS = 32, 4
WORD = re.compile(r"\w+")


def shingles(text):
    words = WORD.findall(text.lower())
    if len(words) < SHINGLE:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)]


def load(corpus):
    with open(os.path.join(corpus, "articles.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run_datasketch(articles):
    from datasketch import MinHash, MinHashLSH
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=PERMS, params=(BANDS, ROWS))
    sigs, labels = {}, []
    for i, a in enumerate(articles):
        m = MinHash(num_perm=PERMS, seed=1)
        m.update_batch([s.encode("utf-8") for s in set(shingles(a["body"]))])
        best, best_j = None, THRESHOLD
        for k in lsh.query(m):
            j = m.jaccard(sigs[k])
            if j >= best_j:
                best, best_j = k, j
        labels.append(labels[best] if best is not None else i)
        lsh.insert(i, m)
        sigs[i] = m
    return labels


def run_rensa(articles):
    from rensa import RMinHash, RMinHashLSH
    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=PERMS, num_bands=BANDS)
    sigs, labels = {}, []
    for i, a in enumerate(articles):
        m = RMinHash(num_perm=PERMS, seed=42)
        m.update(shingles(a["body"]))
        best, best_j = None, THRESHOLD
        for k in lsh.query(m):
            j = m.jaccard(sigs[k])
            if j >= best_j:
                best, best_j = k, j
        labels.append(labels[best] if best is not None else i)
        lsh.insert(i, m)
        sigs[i] = m
    return labels


def run_gaoya(articles):
    import gaoya.minhash as gm
    # gaoya tokenises in Rust (word 5-grams, lower-cased) and verifies the threshold itself.
    index = gm.MinHashStringIndex(hash_size=32, jaccard_threshold=THRESHOLD, num_bands=BANDS, band_size=ROWS,
                                  num_hashes=None, analyzer="word", lowercase=True,
                                  ngram_range=(SHINGLE, SHINGLE), id_container="vec")
    labels = []
    for i, a in enumerate(articles):
        found = index.query(a["body"])
        # No scores are returned: join the earliest matching article's story.
        labels.append(labels[min(found)] if found else i)
        index.insert_document(i, a["body"])
    return labels


PEERS = {"datasketch": run_datasketch, "rensa": run_rensa, "gaoya": run_gaoya}


def pairwise(pred, gold):
    def pairs(counter):
        return sum(c * (c - 1) // 2 for c in counter.values())
    tp = pairs(Counter(zip(pred, gold)))
    pp, gp = pairs(Counter(pred)), pairs(Counter(gold))
    p = tp / pp if pp else 1.0
    r = tp / gp if gp else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1


def child(name, corpus):
    """Runs one peer in this process and prints its figures as JSON."""
    articles = load(corpus)
    with open(os.path.join(corpus, "gold.csv"), newline="", encoding="utf-8") as f:
        gold = {row["id"]: row["cluster"] for row in csv.DictReader(f)}
    started = time.perf_counter()
    labels = PEERS[name](articles)
    seconds = time.perf_counter() - started
    p, r, f1 = pairwise(labels, [gold[a["id"]] for a in articles])
    print(json.dumps({"articles": len(articles), "seconds": seconds, "articles_per_sec": len(articles) / seconds,
                      "precision": p, "recall": r, "f1": f1}))


def run_measured(cmd):
    # wait4 gives this child's own peak RSS (ru_maxrss, KiB on Linux), not the sum of all children.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out.decode(), err.decode(), usage.ru_maxrss * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--syndedup", default="target/release/syndedup")
    ap.add_argument("--cpu", default="0", help="CPU to pin every run to (taskset -c); 'none' to not pin")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.corpus)
        return

    pin = ["taskset", "-c", args.cpu] if args.cpu != "none" and shutil.which("taskset") else []
    if not pin:
        print("peers.py: not pinned to one CPU (no taskset, or --cpu none)", file=sys.stderr)
    rows = []
    version = subprocess.run([args.syndedup, "--version"], capture_output=True, text=True).stdout.split()[-1]
    # First at the peers' settings (Jaccard threshold 0.5), then at syndedup's own defaults.
    for label, extra in (("syndedup", ["--threshold", str(THRESHOLD)]), ("syndedup*", [])):
        code, out, err, rss = run_measured(pin + [args.syndedup, "bench", "--input",
                                                  os.path.join(args.corpus, "articles.jsonl"),
                                                  "--gold", os.path.join(args.corpus, "gold.csv"),
                                                  "--shingle-size", str(SHINGLE), "--permutations", str(PERMS),
                                                  "--threads", "1", "--json", "--quiet"] + extra)
        if code != 0:
            sys.exit(f"peers.py: syndedup failed: {err}")
        s = json.loads(out)
        rows.append((label, version, s["articles_per_sec"], rss, s["precision"], s["recall"], s["f1"], None))
    for name in PEERS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed", None, None, None, None, None, "pip install failed or not run"))
            continue
        code, out, err, rss = run_measured(pin + [sys.executable, os.path.abspath(__file__), "--child", name,
                                                  "--corpus", args.corpus])
        if code != 0:
            rows.append((name, version, None, None, None, None, None, err.strip().splitlines()[-1:] or "failed"))
            continue
        r = json.loads(out)
        rows.append((name, version, r["articles_per_sec"], rss, r["precision"], r["recall"], r["f1"], None))

    base_speed, base_mem = rows[0][2], rows[0][3]
    n = s["articles"]
    print(f"{n} articles, {s['bytes'] / 1e6:.1f} MB; k={SHINGLE}, {PERMS} permutations, threshold {THRESHOLD}; "
          f"{'one CPU (taskset -c ' + args.cpu + ')' if pin else 'not pinned'}")
    print(f"{'tool':<11} {'version':<9} {'articles/s':>11} {'peak MB':>8} {'P':>7} {'R':>7} {'F1':>7} "
          f"{'syndedup speed x':>17} {'its memory / ours':>18}")
    for name, version, aps, mem, p, r, f1, note in rows:
        if aps is None:
            print(f"{name:<11} {version:<9} {'-':>11}  {note}")
            continue
        ratio = "" if name.startswith("syndedup") else f"{base_speed / aps:.1f}x"
        mem_ratio = "" if name.startswith("syndedup") else f"{mem / base_mem:.2f}"
        print(f"{name:<11} {version:<9} {aps:>11.0f} {mem / 1e6:>8.1f} {p:>7.4f} {r:>7.4f} {f1:>7.4f} "
              f"{ratio:>17} {mem_ratio:>18}")
    print("syndedup: at threshold 0.5 like the peers (ratios are to this row); syndedup*: at its own defaults "
          "(threshold 0.7 plus the containment rule). syndedup's articles/s is end to end, JSON parsing included.")


if __name__ == "__main__":
    main()
