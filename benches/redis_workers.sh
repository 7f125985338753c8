#!/usr/bin/env bash
# One `run --once` over synthetic feeds (like the poll500 example's: OUTLETS outlets x ITEMS items
# of ~150 words, a third of them copies of 40 wire stories; local files, full text off) with
# three stores: SQLite in one process, Redis with one worker, Redis with two workers started
# together. Redis is a local 3-master cluster (redis-server --cluster-enabled yes) in a temp dir.
# Prints wall, items/s, CPU, stories and each Redis worker's `Redis store closed` fields, then
# checks that the three runs grouped the items into the same stories. See docs/redis.md,
# "Measured". Not a test: speed is measured, never asserted.
#
#   benches/redis_workers.sh [SYNDEDUP_BINARY] [OUTLETS] [ITEMS]
#   (default: $CARGO_TARGET_DIR or target, release/syndedup; 500; 50. Build it first with
#   `cargo build --release --bin syndedup`. Needs redis-server, redis-cli, python3, GNU time.)
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/syndedup}
OUTLETS=${2:-500}
ITEMS=${3:-50}
BIN=$(realpath "$BIN")
BASE=${BASE_PORT:-7310}
DIR=$(mktemp -d /tmp/redis_workers.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT

# The feeds and the configs.
python3 - "$DIR" "$OUTLETS" "$ITEMS" <<'PY'
import os, random, sys
d, outlets, items = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
vocab = ("government minister talks river dam officials said monday capital delegation water "
         "rights funding engineers costs month project delayed dispute border trade election "
         "court ruling police storm harvest market shares bank rates strike union school hospital "
         "vaccine festival museum league final coach airport railway bridge budget parliament "
         "opposition leader agreement report investors prices energy oil gas climate summit "
         "president reforms protest city village farmers exports imports growth inflation jobs "
         "workers").split()
def text(seed, words):
    r = random.Random(seed)
    out = []
    for i in range(words):
        if i > 0:
            out.append(".</p><p>" if i % 25 == 0 else " ")
        out.append(vocab[r.randrange(len(vocab))])
    return "<p>" + "".join(out) + ".</p>"
os.makedirs(f"{d}/feeds")
outl = []
for o in range(outlets):
    s = ['<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Outlet</title>']
    for i in range(items):
        if i % 3 == 0:
            w = (o * 7 + i) % 40
            body = text(f"wire{w}", 150) + f"<p>(This story has not been edited by outlet {o} staff and is published from a syndicated feed.)</p>"
            title = f"Wire story {w} as told by outlet {o}"
        else:
            body = text(f"o{o}i{i}", 150)
            title = f"Story {i} of outlet {o}"
        s.append(f'<item><guid isPermaLink="false">o{o}-{i}</guid><title>{title}</title>'
                 f'<link>https://outlet{o}.example/news/{i}?utm_source=rss</link>'
                 f'<pubDate>Mon, 06 Jan 2025 10:{i % 60:02d}:00 GMT</pubDate>'
                 f'<description><![CDATA[{body}]]></description></item>')
    s.append("</channel></rss>")
    with open(f"{d}/feeds/o{o}.xml", "w") as f:
        f.write("".join(s))
    outl.append(f'[[outlet]]\nname = "outlet{o}"\nurl = "feeds/o{o}.xml"\n')
open(f"{d}/outlets.toml", "w").write("".join(outl))
PY
conf() { # name, store table
  cat > "$DIR/$1.toml" <<TOML
[fetch]
concurrency = 8

[output]
jsonl = "$1.jsonl"
kind = "stories"

[store]
$2

$(cat "$DIR/outlets.toml")
TOML
}
conf sqlite "path = \"sqlite.db\""
REDIS="kind = \"redis\"
urls = [\"redis://127.0.0.1:$BASE\"]"
conf one "$REDIS
prefix = \"one\""
conf w1 "$REDIS
prefix = \"two\""
conf w2 "$REDIS
prefix = \"two\""

# The cluster.
for p in $BASE $((BASE + 1)) $((BASE + 2)); do
  mkdir -p "$DIR/redis/$p"
  (cd "$DIR/redis/$p" && exec redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file nodes.conf --save "" --appendonly no >log 2>&1) &
  PIDS+=($!)
done
for p in $BASE $((BASE + 1)) $((BASE + 2)); do
  until redis-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.1; done
done
redis-cli --cluster create 127.0.0.1:$BASE 127.0.0.1:$((BASE + 1)) 127.0.0.1:$((BASE + 2)) \
  --cluster-replicas 0 --cluster-yes >/dev/null
until redis-cli -p "$BASE" cluster info | grep -q 'cluster_state:ok'; do sleep 0.2; done

run() { # name: one worker, its time in $DIR/name.time, its log in $DIR/name.log
  (cd "$DIR" && /usr/bin/time -f "%e %U %S" -o "$1.time" "$BIN" run --once --config "$1.toml" \
    >"$1.out" 2>"$1.log")
}
field() { # log, field
  grep 'Redis store closed' "$1" | sed -n "s/.*$2=\"\{0,1\}\([0-9.]*\).*/\1/p" | head -1
}
items=$((OUTLETS * ITEMS))
row() { # label, wall, workers...
  local label=$1 wall=$2 cpu="" fields="" polls=""
  shift 2
  for w in "$@"; do
    read -r _ u s <"$DIR/$w.time"
    polls+="${polls:+ + }$(grep 'poll cycle done' "$DIR/$w.log" | sed -n 's/.* polls=\([0-9]*\).*/\1/p')"
    cpu+="${cpu:+ + }$(printf '%.1f' "$(echo "$u + $s" | bc)")"
    if grep -q 'Redis store closed' "$DIR/$w.log"; then
      fields+="${fields:+; }redis $(field "$DIR/$w.log" redis_seconds) s, lock wait $(field "$DIR/$w.log" lock_wait_seconds) s, held $(field "$DIR/$w.log" lock_held_seconds) s"
    fi
  done
  local stories
  stories=$(cd "$DIR" && "$BIN" stories --config "$w.toml" --format json --limit 1000000 2>/dev/null | wc -l)
  printf '| %s | %.1f s | %.0f | %s s | %s | %s | %s |\n' "$label" "$wall" "$(echo "$items / $wall" | bc -l)" "$cpu" "$polls" "$stories" "${fields:--}"
}
now() { date +%s.%N; }

t0=$(now); run sqlite; t1=$(now); S_WALL=$(echo "$t1 - $t0" | bc)
t0=$(now); run one; t1=$(now); O_WALL=$(echo "$t1 - $t0" | bc)
t0=$(now); run w2 & W2=$!; run w1; wait $W2; t1=$(now); T_WALL=$(echo "$t1 - $t0" | bc)

echo "$OUTLETS outlets x $ITEMS items = $items items; $BIN"
echo "| run | wall | items/s | CPU (user+sys) | outlets polled | stories | Redis store closed |"
echo "|---|---|---|---|---|---|---|"
row "SQLite, 1 process" "$S_WALL" sqlite
row "Redis, 1 worker" "$O_WALL" one
row "Redis, 2 workers started together" "$T_WALL" w1 w2

# Same grouping: each story as the sorted list of its copies' (outlet, id).
group() {
  (cd "$DIR" && "$BIN" stories --config "$1.toml" --format json --limit 1000000) | python3 -c '
import json, sys
def key(c): return (c.get("outlet") or "", c.get("id") or "")
print(sorted(sorted(key(c) for c in json.loads(l).get("copies", [])) for l in sys.stdin if l.strip()))' | sha256sum | cut -c1-16
}
echo "grouping (hash of every story's copies): sqlite $(group sqlite), one worker $(group one), two workers $(group w1)"
