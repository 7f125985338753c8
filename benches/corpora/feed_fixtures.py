#!/usr/bin/env python3
"""The feed-fixture sweep: every file of the third-party feed fixtures as one outlet each.

    python3 benches/corpora/feed_fixtures.py [--fixtures ../shared/feed-fixtures]
        [--bin target/debug/syndedup] [--out /tmp/feed-fixtures-sweep] [--feedparser]

Serves every file under FIXTURES (README and LICENSE files excepted) from a local HTTP server on
127.0.0.1 (port 0), writes a config with one `[[outlet]]` per file, runs `syndedup run --once`
and counts files with items, total items, outlets with an error and "silent empty" outlets (ok,
0 items, although the document has <item> or <entry> elements). A file that starts with a
feedparser-style comment carrying `Header: Content-type: ...` is served with that Content-Type,
as feedparser's own test harness does; other files get `application/xml` or `application/json`.

With --feedparser (needs `pip install feedparser`), the same bytes and headers also go through
Python's feedparser for comparison, and files where feedparser finds more items are listed.

Writes OUT/syndedup.toml, OUT/table.txt (the `--once` table) and OUT/per-file.tsv.
Nothing leaves this machine.
"""
import argparse
import http.server
import os
import re
import subprocess
import sys
import threading
import urllib.parse

SKIP = {"README.md", "LICENSE", "LICENSE-MIT", "LICENSE-APACHE"}
HEADER_RE = re.compile(rb"^\s*Header:\s*([A-Za-z-]+):\s*(.+?)\s*$", re.M)


def collect(root):
    files = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            if n in SKIP:
                continue
            files.append(os.path.relpath(os.path.join(dirpath, n), root))
    return sorted(files)


def headers_for(rel, data):
    """Content-Type (and other headers) a feedparser fixture asks for, else one by extension."""
    hs = {}
    head = data[:2048]
    if head.lstrip().startswith(b"<!--"):
        end = head.find(b"-->")
        for m in HEADER_RE.finditer(head[: end if end > 0 else len(head)]):
            hs[m.group(1).decode("latin-1").title()] = m.group(2).decode("latin-1")
    if "Content-Type" not in hs:
        hs["Content-Type"] = "application/json" if rel.endswith(".json") else "application/xml"
    return hs


def has_items(data):
    return re.search(rb"<(?:[A-Za-z0-9_]+:)?(?:item|entry)[\s>/]", data) is not None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=os.path.normpath(os.path.join(repo, "..", "shared", "feed-fixtures")))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
    ap.add_argument("--bin", default=os.path.join(target, "debug", "syndedup"))
    ap.add_argument("--out", default="/tmp/feed-fixtures-sweep")
    ap.add_argument("--feedparser", action="store_true", help="also count what Python's feedparser gets")
    args = ap.parse_args()

    files = collect(args.fixtures)
    if not files:
        sys.exit(f"feed_fixtures.py: no files under {args.fixtures}")
    blobs = {}
    for rel in files:
        with open(os.path.join(args.fixtures, rel), "rb") as f:
            data = f.read()
        blobs[rel] = (data, headers_for(rel, data))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            rel = urllib.parse.unquote(self.path.lstrip("/"))
            if rel not in blobs:
                self.send_error(404)
                return
            data, hs = blobs[rel]
            self.send_response(200)
            for k, v in hs.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    os.makedirs(args.out, exist_ok=True)
    cfg = os.path.join(args.out, "syndedup.toml")
    names = {}
    with open(cfg, "w", encoding="utf-8") as f:
        f.write("[fetch]\nconcurrency = 16\nper_host_concurrency = 16\n\n")
        for i, rel in enumerate(files):
            name = f"f{i:03d}"
            names[name] = rel
            url = f"http://127.0.0.1:{port}/" + urllib.parse.quote(rel)
            f.write(f'[[outlet]]\nname = "{name}"\nurl = "{url}"\n\n')
    proc = subprocess.run([args.bin, "run", "--once", "--config", cfg], capture_output=True, text=True)
    server.shutdown()
    with open(os.path.join(args.out, "table.txt"), "w", encoding="utf-8") as f:
        f.write(proc.stdout)
        f.write(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"feed_fixtures.py: syndedup exited with {proc.returncode}; see {args.out}/table.txt")

    rows = {}
    lines = proc.stdout.splitlines()
    # Aligned columns: the last one (error or repairs) starts where its header does.
    header = next((l for l in lines if l.startswith("OUTLET")), "")
    note_at = header.find("ERROR")
    for line in lines:
        parts = line.split(None, 6)
        if len(parts) >= 6 and parts[0] in names and parts[2].isdigit():
            note = line[note_at:].strip() if note_at > 0 else ""
            rows[parts[0]] = (parts[1], int(parts[2]), note)

    fp = {}
    if args.feedparser:
        try:
            import feedparser  # noqa: F401
        except ImportError:
            sys.exit("feed_fixtures.py: --feedparser needs `pip install feedparser`")
        for rel in files:
            data, hs = blobs[rel]
            d = feedparser.parse(data, response_headers={k.lower(): v for k, v in hs.items()})
            fp[rel] = len(d.entries)

    with_items = total = errors = silent = 0
    with open(os.path.join(args.out, "per-file.tsv"), "w", encoding="utf-8") as out:
        out.write("file\tstatus\titems\tfeedparser\tnote\n")
        for name, rel in names.items():
            status, items, note = rows.get(name, ("missing", 0, "no row in the table"))
            data = blobs[rel][0]
            if items > 0:
                with_items += 1
                total += items
            is_error = status == "error" or (note and not note.startswith("repaired"))
            if is_error:
                errors += 1
            elif items == 0 and has_items(data):
                silent += 1
                note = "SILENT EMPTY: " + note
            out.write(f"{rel}\t{status}\t{items}\t{fp.get(rel, '')}\t{note}\n")
    print(f"files: {len(files)}")
    print(f"syndedup: {with_items} files with items, {total} items, {errors} outlets with an error, "
          f"{silent} silent empty feeds")
    if fp:
        fw = sum(1 for v in fp.values() if v > 0)
        print(f"feedparser: {fw} files with items, {sum(fp.values())} items")
        behind = [(rel, rows.get(n, ("", 0, ""))[1], fp[rel]) for n, rel in names.items()
                  if fp[rel] > rows.get(n, ("", 0, ""))[1]]
        print(f"files where feedparser gets more items: {len(behind)}")
        for rel, ours, theirs in behind:
            print(f"  {rel}: syndedup {ours}, feedparser {theirs}")
    print(f"details: {args.out}/per-file.tsv")


if __name__ == "__main__":
    main()
