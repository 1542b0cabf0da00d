#!/usr/bin/env bash
# Measures the server with wrk on loopback: the server pinned to core 0, wrk to core 1.
#
#   bench/run.sh [null|preview] [duration-seconds]
#
# Builds the release binary if needed (into .build-release; NANO_BANANA_BIN runs another,
# e.g. a saved build of an earlier commit, for a side-by-side), starts it with a temp data
# dir (the durable SQLite store is on, as in production), and prints wrk's figures for
# /healthz, v2 submit, v2 status, v1 sync and the full submit→poll→result flow at 64
# connections. Every run is bounded by its duration; the server is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

engine="${1:-null}"
duration="${2:-10}"
connections=64
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

bin=${NANO_BANANA_BIN:-.build-release/release/nano-banana}
if [[ ! -x $bin ]]; then
    swift build -c release --product nano-banana --scratch-path .build-release
fi

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="$data/server.log"
taskset -c 0 "$bin" serve --port "$port" --data-dir "$data" --engine "$engine" --workers "${WORKERS:-4}" \
    --log-level warning >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.1
done
export NB_KEY=$(grep -m1 -E '^\s+nb_' "$log" | tr -d ' ')
export NB_BODY='{"prompt":"a gold leaf sign that says '\''MEXITALY'\''","output_resolution":"512px"}'
base="http://127.0.0.1:$port"

run() { # name, wrk args...
    local name=$1; shift
    echo "=== $name (engine $engine, $connections connections, ${duration}s)"
    taskset -c 1 wrk --latency -d "${duration}s" "$@" | grep -E "Requests/sec|Latency |^ +50%|^ +99%|flow:|Non-2xx|Socket errors"
}

run healthz -t2 -c "$connections" "$base/healthz"
run "v2 submit" -t2 -c "$connections" -s bench/submit.lua "$base"
# Let the queue drain before measuring status and sync.
for _ in $(seq 1 600); do
    curl -s -H "x-api-key: $NB_KEY" -d "$NB_BODY" "$base/v1/nano-banana-2" -o /dev/null -w '%{http_code}' | grep -q 200 && break
done
export NB_ID=$(curl -s -H "x-api-key: $NB_KEY" -d "$NB_BODY" "$base/v2/nano-banana-2" | python3 -c 'import sys,json; print(json.load(sys.stdin)["request_id"])')
run "v2 status" -t2 -c "$connections" -s bench/status.lua "$base"
run "v1 sync" -t2 -c "$connections" -s bench/sync.lua "$base"
run "flow submit→poll→result" -t "$connections" -c "$connections" -s bench/flow.lua "$base"
