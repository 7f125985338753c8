#!/usr/bin/env bash
# Regenerates issue 14's table in one run: syndedup dedup on one core and with --threads 2 on two,
# the gaoya crate (benches/peers/gaoya), and the Python peers when they can be installed; medians
# of RUNS runs of each; pairwise F1 for every row.
#
#   bash benches/peers/run.sh [ARTICLES] [CPU] [RUNS]     (defaults: 100000 articles, CPU 0, 3 runs)
#
# Environment:
#   CORPUS=DIR     use DIR/articles.jsonl + DIR/gold.csv instead of writing a synthetic corpus
#   CPUS2=0,1      the two CPUs of the --threads 2 run
#   NO_PYTHON=1    skip the Python peers (datasketch, rensa, gaoya's binding)
#   PEER_THRESHOLD=0.5   the peers' Jaccard threshold (default: syndedup's default threshold)
#   VENV=DIR       the Python peers' virtual environment (default benches/peers/.venv)
#   WORK=DIR       where outputs and a written corpus go (default: a new temporary directory)
#   CARGO_TARGET_DIR, GAOYA_TARGET_DIR   build directories (default target/, benches/peers/gaoya/target)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
articles="${1:-100000}"
cpu="${2:-0}"
runs="${3:-3}"
cd "$repo"

echo "run.sh: building syndedup (release)" >&2
cargo build --release --quiet
syndedup="${CARGO_TARGET_DIR:-$repo/target}/release/syndedup"

echo "run.sh: building the gaoya peer (release, its own Cargo.lock)" >&2
gaoya_target="${GAOYA_TARGET_DIR:-$here/gaoya/target}"
gaoya=""
if (cd "$here/gaoya" && CARGO_TARGET_DIR="$gaoya_target" cargo build --release --locked --quiet); then
  gaoya="$gaoya_target/release/gaoya-peer"
else
  echo "run.sh: the gaoya peer did not build; its row is skipped" >&2
fi

if [ -n "${WORK:-}" ]; then
  work="$WORK"
  mkdir -p "$work"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
if [ -n "${CORPUS:-}" ]; then
  corpus="$CORPUS"
else
  corpus="$work/corpus"
  "$syndedup" bench --articles "$articles" --write-corpus "$corpus" >/dev/null
fi

python="python3"
python_flag=()
if [ -n "${NO_PYTHON:-}" ]; then
  python_flag=(--no-python)
else
  venv="${VENV:-$here/.venv}"
  if { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } &&
     "$venv/bin/pip" install --quiet -r "$here/requirements.txt"; then
    python="$venv/bin/python"
  else
    echo "run.sh: could not set up the Python peers in $venv (pip install -r requirements.txt failed); they are skipped" >&2
    python_flag=(--no-python)
  fi
fi

extra=()
[ -n "$gaoya" ] && extra=(--gaoya "$gaoya")
[ -n "${PEER_THRESHOLD:-}" ] && extra+=(--peer-threshold "$PEER_THRESHOLD")
"$python" "$here/peers.py" --corpus "$corpus" --syndedup "$syndedup" "${extra[@]}" \
  --cpu "$cpu" --cpus2 "${CPUS2:-0,1}" --runs "$runs" --work "$work" "${python_flag[@]}"
