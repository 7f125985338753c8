#!/usr/bin/env python3
"""Converts the BBC News evaluation corpus to `syndedup eval` input, outside the repository.

    python3 benches/corpora/bbc.py [--corpus ../shared/corpora/bbc-news] [--out /tmp] [--lenient]

Writes OUT/bbc.jsonl (one article per line: id = path under texts/ such as "business/001.txt",
title = the file's first line, body = the rest) and OUT/bbc-gold.csv (id,cluster from the
`cluster_strict` column, or `cluster_lenient` with --lenient). The texts are the BBC's: never
copy the output into the repository.
"""
import argparse
import csv
import json
import os
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "corpora", "bbc-news"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=default, help="the bbc-news folder (default: %(default)s)")
    ap.add_argument("--out", default="/tmp", help="output folder (default: %(default)s)")
    ap.add_argument("--lenient", action="store_true", help="use cluster_lenient instead of cluster_strict")
    args = ap.parse_args()

    column = "cluster_lenient" if args.lenient else "cluster_strict"
    clusters_path = os.path.join(args.corpus, "clusters.csv")
    try:
        with open(clusters_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"bbc.py: cannot read {clusters_path}: {e}")
    os.makedirs(args.out, exist_ok=True)
    articles_path = os.path.join(args.out, "bbc.jsonl")
    gold_path = os.path.join(args.out, "bbc-gold.csv")
    written = skipped = 0
    with open(articles_path, "w", encoding="utf-8") as out, open(gold_path, "w", newline="", encoding="utf-8") as gold:
        g = csv.writer(gold)
        g.writerow(["id", "cluster"])
        for line_no, row in enumerate(rows, start=2):
            doc = row.get("doc")
            cluster = row.get(column)
            if not doc or not cluster:
                print(f"bbc.py: {clusters_path}:{line_no}: no doc or {column}; skipped", file=sys.stderr)
                skipped += 1
                continue
            path = os.path.join(args.corpus, "texts", doc)
            try:
                with open(path, encoding="utf-8", errors="replace") as t:
                    text = t.read()
            except OSError as e:
                print(f"bbc.py: {path}: {e}; skipped", file=sys.stderr)
                skipped += 1
                continue
            title, _, body = text.strip().partition("\n")
            out.write(json.dumps({"id": doc, "title": title.strip(), "outlet": "BBC", "body": body.strip()}) + "\n")
            g.writerow([doc, cluster])
            written += 1
    print(f"bbc.py: {written} articles to {articles_path}, gold ({column}) to {gold_path}, {skipped} skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
