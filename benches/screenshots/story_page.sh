#!/usr/bin/env bash
# A real headless-browser look at the story page (not run by `cargo test`):
#   1. builds syndedup (debug),
#   2. runs the offline demo once (config/demo.toml writes config/demo-out/, git-ignored),
#   3. serves the store on a free localhost port,
#   4. screenshots /stories/<id> of the story with the most copies with Debian's chromium.
# The PNG goes to /tmp (never into the repository). Usage:
#   benches/screenshots/story_page.sh [OUT.png]        (default /tmp/story.png)
# Needs chromium (`apt-get install -y chromium`), curl and python3.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-/tmp/story.png}"
cd "$root"

browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
    echo "chromium is not installed: apt-get install -y chromium" >&2
    exit 1
fi

cargo build --quiet
target="${CARGO_TARGET_DIR:-$root/target}"
bin="$target/debug/syndedup"

rm -rf config/demo-out
"$bin" run --once --config config/demo.toml > /dev/null

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp /tmp/story-page-serve.XXXXXX.log)"
"$bin" serve --config config/demo.toml --listen "127.0.0.1:$port" 2> "$log" &
serve_pid=$!
trap 'kill "$serve_pid" 2> /dev/null || true' EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    curl -fs "$base/healthz" > /dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "$base/healthz" > /dev/null || { cat "$log" >&2; exit 1; }

id="$(curl -fs "$base/api/stories?limit=1000" | python3 -c '
import json, sys
stories = json.load(sys.stdin)
print(max(stories, key=lambda s: (len(s["copies"]), s["story"]))["story"])')"
url="$base/stories/$id"
echo "screenshot of $url" >&2

profile="$(mktemp -d /tmp/story-page-chromium.XXXXXX)"
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --screenshot="$out" --window-size=1200,1600 "$url" \
    > /dev/null 2>&1
rm -rf "$profile"
[ -s "$out" ] || { echo "no screenshot written to $out" >&2; exit 1; }
echo "$out"
