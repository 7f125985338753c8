#!/usr/bin/env python3
"""Scores the feed path on labelled pages: articles as RSS feeds, `run --once`, then `stories`.

    python3 benches/corpora/dev_feeds.py [--articles /tmp/dev.jsonl]
        [--gold ../shared/corpora/wire-event-helsinki/dev/dev-gold.jsonl]
        [--bin target/release/syndedup] [--out /tmp/dev-feeds] [--config-extra 'TOML lines']

`syndedup eval` scores the engine on JSON Lines; users run the daemon on feeds. This writes one
RSS 2.0 file per outlet (each article an item: guid = its id, its paragraphs as HTML <p> in
content:encoded, pubDate = its published time), a config with one outlet per file and a store
under OUT, runs `syndedup run --once`, reads the stories back with `syndedup stories --format
json`, and prints pairwise precision, recall and F1 against the gold labels, the same measure
as `syndedup eval`. Make the articles with
`python3 ../shared/corpora/wire-event-helsinki/dev/make_dev_articles.py /tmp/dev.jsonl`.
Nothing here is copied into the repository: OUT is a scratch folder.
"""
import argparse
import collections
import email.utils
import html
import itertools
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime


def rss(outlet, items):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
           f"<channel><title>{html.escape(outlet)}</title><link>https://{html.escape(outlet)}/</link>"
           f"<description>{html.escape(outlet)}</description>"]
    for a in items:
        paras = [p for p in a["body"].split("\n\n") if p.strip()]
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
        title = html.escape(a.get("title") or "")
        date = ""
        if a.get("published"):
            try:
                dt = datetime.fromisoformat(a["published"].replace("Z", "+00:00"))
                date = f"<pubDate>{email.utils.format_datetime(dt)}</pubDate>"
            except ValueError:
                pass
        out.append(f'<item><title>{title}</title><guid isPermaLink="false">{html.escape(a["id"])}</guid>'
                   f"{date}<content:encoded><![CDATA[{body}]]></content:encoded></item>")
    out.append("</channel></rss>")
    return "\n".join(out)


def pairs(groups):
    s = set()
    for g in groups:
        for a, b in itertools.combinations(sorted(g), 2):
            s.add((a, b))
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", default="/tmp/dev.jsonl")
    ap.add_argument("--gold", default=os.path.join(root, "..", "shared", "corpora", "wire-event-helsinki", "dev", "dev-gold.jsonl"))
    ap.add_argument("--bin", default=os.path.join(root, "target", "release", "syndedup"))
    ap.add_argument("--out", default="/tmp/dev-feeds")
    ap.add_argument("--config-extra", default="", help="TOML appended to the generated config")
    args = ap.parse_args()

    try:
        articles = [json.loads(l) for l in open(args.articles, encoding="utf-8") if l.strip()]
        gold = {}
        for l in open(args.gold, encoding="utf-8"):
            if l.strip():
                d = json.loads(l)
                gold[d["id"]] = d["cluster"]
    except (OSError, ValueError) as e:
        sys.exit(f"dev_feeds.py: {e}")
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(os.path.join(args.out, "feeds"))
    by_outlet = collections.defaultdict(list)
    for a in articles:
        by_outlet[a.get("outlet") or "unknown"].append(a)
    lines = []
    for n, (outlet, items) in enumerate(sorted(by_outlet.items())):
        path = os.path.join(args.out, "feeds", f"feed{n:03}.xml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(rss(outlet, items))
        lines.append(f'[[outlet]]\nname = {json.dumps(outlet)}\nurl = {json.dumps(path)}\n')
    config = os.path.join(args.out, "config.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f'[store]\npath = {json.dumps(os.path.join(args.out, "store.db"))}\n\n')
        if args.config_extra:
            f.write(args.config_extra.replace("\\n", "\n") + "\n\n")
        f.write("\n".join(lines))
    run = subprocess.run([args.bin, "run", "--config", config, "--once", "--log-level", "warn"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"dev_feeds.py: run --once failed ({run.returncode}):\n{run.stderr[-2000:]}")
    st = subprocess.run([args.bin, "stories", "--config", config, "--format", "json", "--limit", "1000000",
                         "--log-level", "warn"], capture_output=True, text=True)
    if st.returncode != 0:
        sys.exit(f"dev_feeds.py: stories failed ({st.returncode}):\n{st.stderr[-2000:]}")
    predicted = []
    seen = set()
    for l in st.stdout.splitlines():
        s = json.loads(l)
        ids = [c["id"] for c in s["copies"]]
        predicted.append(ids)
        seen.update(ids)
    missing = [a["id"] for a in articles if a["id"] not in seen]
    predicted.extend([[m] for m in missing])
    gold_groups = collections.defaultdict(list)
    for i, c in gold.items():
        gold_groups[c].append(i)
    scored = set(gold)
    pred_pairs = {p for p in pairs(predicted) if p[0] in scored and p[1] in scored}
    gold_pairs = pairs(gold_groups.values())
    tp = len(pred_pairs & gold_pairs)
    p = tp / len(pred_pairs) if pred_pairs else 1.0
    r = tp / len(gold_pairs) if gold_pairs else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    print(f"feeds {len(by_outlet)}, articles {len(articles)}, stored {len(seen)}, not in any story {len(missing)}")
    print(f"stories {len(predicted)}: pairwise precision {p:.4f}  recall {r:.4f}  F1 {f1:.4f}  "
          f"(true pairs found {tp}, false merges {len(pred_pairs) - tp}, misses {len(gold_pairs) - tp})")


if __name__ == "__main__":
    main()
