#!/usr/bin/env bash
# Side-by-side run of syndedup and its peers on one synthetic corpus, one core each.
#   bash benches/peers/run.sh [ARTICLES] [CPU]      (defaults: 100000 articles, CPU 0)
# Builds the release binary, writes the corpus with `syndedup bench --write-corpus`, sets up the
# pinned virtual environment in benches/peers/.venv, and prints one table.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
articles="${1:-100000}"
cpu="${2:-0}"
cd "$repo"
cargo build --release --quiet
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
./target/release/syndedup bench --articles "$articles" --write-corpus "$corpus" >/dev/null
if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
fi
"$here/.venv/bin/pip" install --quiet -r "$here/requirements.txt"
"$here/.venv/bin/python" "$here/peers.py" --corpus "$corpus" --syndedup "$repo/target/release/syndedup" --cpu "$cpu"
