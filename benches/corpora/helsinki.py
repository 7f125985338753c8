#!/usr/bin/env python3
"""Converts the wire-event-helsinki corpus to `syndedup dedup` / `bench --input` JSON Lines.

    python3 benches/corpora/helsinki.py [--corpus ../shared/corpora/wire-event-helsinki] [--out /tmp]

Writes OUT/helsinki.jsonl: id, outlet (the publisher), published (the scrape time) and body (the
text with its " ### " paragraph separators turned into line breaks). No labels: use it for
throughput on long, noisy pages and to read false merges by hand. Never copy the output into
the repository.
"""
import argparse
import csv
import json
import os
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "corpora", "wire-event-helsinki"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=default, help="the wire-event-helsinki folder (default: %(default)s)")
    ap.add_argument("--out", default="/tmp", help="output folder (default: %(default)s)")
    args = ap.parse_args()

    csv.field_size_limit(1 << 30)
    src = os.path.join(args.corpus, "helsinki_articles.csv")
    dst = os.path.join(args.out, "helsinki.jsonl")
    written = skipped = 0
    try:
        f = open(src, newline="", encoding="utf-8")
    except OSError as e:
        sys.exit(f"helsinki.py: cannot read {src}: {e}")
    os.makedirs(args.out, exist_ok=True)
    with f, open(dst, "w", encoding="utf-8") as out:
        for row in csv.DictReader(f):
            if not row.get("id") or row.get("text") is None:
                print(f"helsinki.py: {src}: a row without id or text; skipped", file=sys.stderr)
                skipped += 1
                continue
            article = {
                "id": row["id"],
                "outlet": row.get("publisher") or None,
                "body": row["text"].replace(" ### ", "\n"),
            }
            if row.get("scrape_time"):
                article["published"] = row["scrape_time"]
            out.write(json.dumps(article) + "\n")
            written += 1
    print(f"helsinki.py: {written} articles to {dst}, {skipped} skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
