#!/usr/bin/env python3
"""syndedup and its MinHash peers side by side on one corpus: the table of issue 14.

    python peers.py --corpus DIR --syndedup BIN [--gaoya BIN] [--cpu 0] [--cpus2 0,1] [--runs 3]
                    [--work DIR] [--no-python]

DIR holds articles.jsonl and gold.csv as written by `syndedup bench --write-corpus DIR`. Rows:

- `syndedup dedup --emit annotate` on one core (taskset -c CPU): the whole process, JSON in and
  JSON out (to a file in --work), timed as the child's wall clock;
- the same with `--threads 2` on two cores (taskset -c CPUS2); its output must be byte for byte
  the one-thread output (checked, and said in the table);
- the gaoya crate (benches/peers/gaoya, Rust): its own clock, corpus load excluded (the load is
  timed apart and given too);
- datasketch, rensa and gaoya's Python binding, when importable by this interpreter (run.sh runs
  this file with the pinned virtual environment's Python): the clock starts after the corpus is
  loaded.

Every peer uses syndedup's defaults as `syndedup bench --json` reports them (shingle size,
permutations, threshold) with the same LSH banding, the one that minimises false positives below
the threshold plus false negatives above it within the permutations (syndedup's and datasketch's
rule); gaoya and rensa need the signature length to be bands x rows, so every peer signs exactly
bands x rows hashes. Each peer tokenises lower-cased `\\w+` words, shingles them, signs, queries,
joins the story of the most similar earlier article at or above the threshold (online, in arrival
order, as syndedup does) and inserts. syndedup runs at its defaults (which add a containment rule
the peers do not have). F1 is pairwise, against gold.csv, for every row. Each tool runs --runs
times, in rotating order; the table gives medians (and every run).
"""
import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from importlib import metadata

WORD = re.compile(r"\w+")


# ---------------------------------------------------------------- settings shared by every peer

def optimal_bands(threshold, slots):
    """The banding syndedup (dedup::lsh::optimal_bands) and datasketch choose."""
    def integrate(f, a, b, steps=200):
        h = (b - a) / steps
        return sum(f(a + (i + 0.5) * h) * h for i in range(steps))
    best, best_err = (1, slots), float("inf")
    for b in range(1, slots + 1):
        for r in range(1, slots // b + 1):
            def p(s, b=b, r=r):
                return 1.0 - (1.0 - s ** r) ** b
            err = 0.5 * integrate(p, 0.0, threshold) + 0.5 * integrate(lambda s: 1.0 - p(s), threshold, 1.0)
            if err < best_err - 1e-12:
                best, best_err = (b, r), err
    return best


def shingles(text, k):
    words = WORD.findall(text.lower())
    if len(words) < k:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + k]) for i in range(len(words) - k + 1)]


# ---------------------------------------------------------------- Python peers (child processes)

def best_match(candidates, sig, sigs, similarity, threshold):
    best, best_j = None, threshold
    for c in sorted(candidates):
        j = similarity(sig, sigs[c])
        if j > best_j or (best is None and j >= best_j):
            best, best_j = c, j
    return best


def run_datasketch(bodies, k, threshold, bands, rows):
    from datasketch import MinHash, MinHashLSH
    perms = bands * rows
    lsh = MinHashLSH(threshold=threshold, num_perm=perms, params=(bands, rows))
    sigs, labels = {}, []
    for i, body in enumerate(bodies):
        sh = shingles(body, k)
        if not sh:
            labels.append(i)
            continue
        m = MinHash(num_perm=perms, seed=1)
        m.update_batch([s.encode("utf-8") for s in set(sh)])
        best = best_match(lsh.query(m), m, sigs, lambda a, b: a.jaccard(b), threshold)
        labels.append(labels[best] if best is not None else i)
        lsh.insert(i, m)
        sigs[i] = m
    return labels


def run_rensa(bodies, k, threshold, bands, rows):
    from rensa import RMinHash, RMinHashLSH
    perms = bands * rows
    lsh = RMinHashLSH(threshold=threshold, num_perm=perms, num_bands=bands)
    sigs, labels = {}, []
    for i, body in enumerate(bodies):
        sh = shingles(body, k)
        if not sh:
            labels.append(i)
            continue
        m = RMinHash(num_perm=perms, seed=42)
        m.update(sh)
        best = best_match(lsh.query(m), m, sigs, lambda a, b: a.jaccard(b), threshold)
        labels.append(labels[best] if best is not None else i)
        lsh.insert(i, m)
        sigs[i] = m
    return labels


def run_gaoya_py(bodies, k, threshold, bands, rows):
    import gaoya.minhash as gm
    # gaoya tokenises in Rust (word k-grams, lower-cased) and verifies the threshold itself.
    index = gm.MinHashStringIndex(hash_size=32, jaccard_threshold=threshold, num_bands=bands, band_size=rows,
                                  num_hashes=bands * rows, analyzer="word", lowercase=True,
                                  ngram_range=(k, k), id_container="vec")
    labels = []
    for i, body in enumerate(bodies):
        found = index.query(body)
        # No scores are returned: join the earliest matching article's story.
        labels.append(labels[min(found)] if found else i)
        index.insert_document(i, body)
    return labels


PY_PEERS = {"rensa": ("rensa", run_rensa), "datasketch": ("datasketch", run_datasketch),
            "gaoya-py": ("gaoya", run_gaoya_py)}


def child(args):
    """Runs one Python peer in this process; writes its clusters and prints its figures as JSON."""
    started = time.perf_counter()
    ids, bodies = [], []
    with open(os.path.join(args.corpus, "articles.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                a = json.loads(line)
                ids.append(str(a["id"]))
                bodies.append(a["body"])
    loaded = time.perf_counter()
    labels = PY_PEERS[args.child][1](bodies, args.k, args.threshold, args.bands, args.rows)
    seconds = time.perf_counter() - loaded
    write_clusters(args.clusters, ids, labels)
    n = len(bodies)
    print(json.dumps({"articles": n, "cluster_seconds": seconds, "load_seconds": loaded - started,
                      "articles_per_sec": n / seconds,
                      "articles_per_sec_with_load": n / (time.perf_counter() - started)}))


# ---------------------------------------------------------------- scoring

def write_clusters(path, ids, labels):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "cluster"])
        for i, label in zip(ids, labels):
            w.writerow([i, f"g{label}"])


def read_gold(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {row["id"]: row["cluster"] for row in csv.DictReader(f)}


def read_annotated(path):
    """id -> story from `syndedup dedup --emit annotate` output."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                a = json.loads(line)
                out[str(a["id"])] = a["dedup"]["story"]
    return out


def pairwise(pred, gold):
    """Pairwise precision, recall and F1 over the articles with a gold label (as syndedup eval)."""
    ids = [i for i in pred if i in gold]

    def pairs(counter):
        return sum(c * (c - 1) // 2 for c in counter.values())
    tp = pairs(Counter((pred[i], gold[i]) for i in ids))
    pp, gp = pairs(Counter(pred[i] for i in ids)), pairs(Counter(gold[i] for i in ids))
    p = tp / pp if pp else 1.0
    r = tp / gp if gp else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


# ---------------------------------------------------------------- the driver

def run_measured(cmd):
    """Runs cmd; returns (exit code, stdout, stderr, wall seconds, the child's own peak RSS bytes)."""
    import tempfile
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        # wait4 gives this child's own peak RSS (ru_maxrss, KiB on Linux), not a high water of all.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read().decode(), err.read().decode(), wall, usage.ru_maxrss * 1024


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--syndedup", default="target/release/syndedup")
    ap.add_argument("--gaoya", help="the gaoya-peer binary (benches/peers/gaoya); its row is skipped without it")
    ap.add_argument("--cpu", default="0", help="CPU for the one-core runs (taskset -c); 'none' to not pin")
    ap.add_argument("--cpus2", default="0,1", help="CPUs for the two-thread run (taskset -c)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each tool; medians are reported")
    ap.add_argument("--work", help="directory for outputs (default: the corpus directory)")
    ap.add_argument("--no-python", action="store_true", help="skip the Python peers")
    ap.add_argument("--peer-threshold", type=float,
                    help="Jaccard threshold of the peers (default: syndedup's own default threshold)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--clusters", help=argparse.SUPPRESS)
    ap.add_argument("--k", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--threshold", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--bands", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if args.runs < 1:
        sys.exit("peers.py: --runs must be at least 1")
    work = args.work or args.corpus
    os.makedirs(work, exist_ok=True)
    articles = os.path.join(args.corpus, "articles.jsonl")
    gold = read_gold(os.path.join(args.corpus, "gold.csv"))

    have_taskset = shutil.which("taskset") is not None
    pin1 = ["taskset", "-c", args.cpu] if args.cpu != "none" and have_taskset else []
    pin2 = ["taskset", "-c", args.cpus2] if args.cpu != "none" and have_taskset else []
    if not pin1:
        print("peers.py: not pinned (no taskset, or --cpu none)", file=sys.stderr)

    # syndedup's defaults, as it reports them.
    probe = subprocess.run([args.syndedup, "bench", "--articles", "20", "--json", "--quiet"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit(f"peers.py: syndedup bench failed: {probe.stderr}")
    d = json.loads(probe.stdout)
    k, perms, threshold = d["shingle_size"], d["permutations"], d["threshold"]
    if args.peer_threshold is not None:
        threshold = args.peer_threshold
    bands, rows = optimal_bands(threshold, perms)
    version = subprocess.run([args.syndedup, "--version"], capture_output=True, text=True).stdout.split()[-1]
    n_articles = sum(1 for line in open(articles, "rb") if line.strip())
    corpus_mb = os.path.getsize(articles) / 1e6

    tools = []  # (key, label, version, runner) ; runner(run) -> dict(aps, peak, extra) and writes prediction
    one_out, two_out = os.path.join(work, "syndedup-1.jsonl"), os.path.join(work, "syndedup-2.jsonl")

    def syndedup_runner(threads, out, pin):
        def run():
            cmd = pin + [args.syndedup, "dedup", "--emit", "annotate", "--input", articles, "--output", out,
                         "--quiet"] + (["--threads", str(threads)] if threads > 1 else [])
            code, _, err, wall, peak = run_measured(cmd)
            if code != 0:
                raise RuntimeError(err.strip()[-400:])
            return {"aps": n_articles / wall, "peak": peak}
        return run

    tools.append(("syndedup-1", f"syndedup dedup --emit annotate, 1 core (taskset -c {args.cpu})", version,
                  syndedup_runner(1, one_out, pin1), lambda: read_annotated(one_out)))
    tools.append(("syndedup-2", f"syndedup dedup --emit annotate --threads 2, 2 cores (taskset -c {args.cpus2})",
                  version, syndedup_runner(2, two_out, pin2), lambda: read_annotated(two_out)))

    skipped = []
    if args.gaoya and os.access(args.gaoya, os.X_OK):
        g_out = os.path.join(work, "gaoya.csv")

        def gaoya_run():
            code, out, err, _, peak = run_measured(pin1 + [
                args.gaoya, "--input", articles, "--clusters", g_out, "--shingle-size", str(k),
                "--permutations", str(perms), "--threshold", str(threshold), "--bands", str(bands),
                "--rows", str(rows)])
            if code != 0:
                raise RuntimeError(err.strip()[-400:])
            r = json.loads(out)
            return {"aps": r["articles_per_sec"], "with_load": r["articles_per_sec_with_load"], "peak": peak}
        tools.append(("gaoya", "gaoya crate (Rust), 1 core, after load", "0.2.2", gaoya_run, lambda: read_gold(g_out)))
    else:
        skipped.append("gaoya crate: no binary (run.sh builds benches/peers/gaoya; give --gaoya BIN)")

    for key, (dist, _) in PY_PEERS.items():
        if args.no_python:
            skipped.append(f"{key}: --no-python")
            continue
        try:
            v = metadata.version(dist)
        except metadata.PackageNotFoundError:
            skipped.append(f"{key}: not installed for {sys.executable} (run.sh installs requirements.txt)")
            continue
        out_path = os.path.join(work, f"{key}.csv")

        def py_run(key=key, out_path=out_path):
            code, out, err, _, peak = run_measured(pin1 + [
                sys.executable, os.path.abspath(__file__), "--child", key, "--corpus", args.corpus,
                "--clusters", out_path, "--k", str(k), "--threshold", str(threshold), "--bands", str(bands),
                "--rows", str(rows)])
            if code != 0:
                raise RuntimeError(err.strip()[-400:])
            r = json.loads(out)
            return {"aps": r["articles_per_sec"], "with_load": r["articles_per_sec_with_load"], "peak": peak}
        tools.append((key, f"{key} (Python), 1 core, after load", v, py_run,
                      lambda out_path=out_path: read_gold(out_path)))

    results = {t[0]: [] for t in tools}
    failed = {}
    for run in range(args.runs):
        # Rotate the order so no tool always runs first (or right after the heaviest one).
        order = tools[run % len(tools):] + tools[:run % len(tools)]
        for key, label, _, runner, _ in order:
            if key in failed:
                continue
            print(f"peers.py: run {run + 1}/{args.runs}: {key}", file=sys.stderr, flush=True)
            try:
                results[key].append(runner())
            except RuntimeError as e:
                failed[key] = str(e)

    base = statistics.median(r["aps"] for r in results["syndedup-1"]) if results.get("syndedup-1") else None
    same = (os.path.exists(one_out) and os.path.exists(two_out) and digest(one_out) == digest(two_out))
    print(f"{n_articles} articles, {corpus_mb:.1f} MB; k={k}, {perms} permutations; syndedup at its defaults "
          f"(threshold {d['threshold']}), the peers at threshold {threshold}, "
          f"{bands} bands x {rows} rows = {bands * rows} hashes; medians of {args.runs} run(s)")
    print(f"{'tool':<70} {'version':<8} {'articles/s':>10} {'peak MB':>8} {'F1':>7} {'P':>7} {'R':>7} {'ratio':>16}  runs")
    for key, label, v, _, pred in tools:
        if key in failed:
            print(f"{label:<70} {v:<8} {'failed':>10}  {failed[key]}")
            continue
        runs = results[key]
        aps = statistics.median(r["aps"] for r in runs)
        p, r_, f1 = pairwise(pred(), gold)
        if key == "syndedup-1":
            ratio = ""
        elif key == "syndedup-2":
            ratio = f"{aps / base:.2f}x one core" if base else ""
        else:
            ratio = f"{base / aps:.1f}x" if base else ""
        peak_mb = statistics.median(x["peak"] for x in runs) / 1e6
        note = "  ".join(f"{x['aps']:.0f}" for x in runs)
        if "with_load" in runs[0]:
            note += f"  (load included: {statistics.median(x['with_load'] for x in runs):.0f}/s)"
        print(f"{label:<70} {v:<8} {aps:>10.0f} {peak_mb:>8.0f} {f1:>7.4f} {p:>7.4f} {r_:>7.4f} {ratio:>16}  {note}")
    print(f"--threads 2 output identical to one thread: {'yes' if same else 'NO'}")
    for s in skipped:
        print(f"skipped: {s}")
    print("ratio: syndedup one core's articles/s over the tool's (for --threads 2: over one core). syndedup's "
          "figure is the whole process, JSON in and out; the peers' clock starts after their corpus load.")


if __name__ == "__main__":
    main()
