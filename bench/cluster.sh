#!/usr/bin/env bash
# Jobs per second through a PostgreSQL cluster, and the time from submit to claim.
#
#   bench/cluster.sh [duration-seconds] [worker-node counts...]     e.g. bench/cluster.sh 15 1 2
#
# Starts a durable PostgreSQL (fsync on) on loopback, then for each count: one API node
# (`serve --no-workers`) and that many worker nodes (`worker --workers 4`), all with the
# zero-latency null engine, in a schema of their own. Two loads, each bounded by its
# duration: 32 connections each running submit → poll → result (throughput), then one
# connection doing the same (an idle cluster's wake-up time). Submit→claim is read from
# the jobs themselves (started_at - created_at), as p50/p99. Before those, the workers'
# own ceiling: the queue is filled with no worker running, then the worker nodes start and
# the time to empty it is taken. Everything is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-15}"
shift || true
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(1 2)
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

bin=.build-release/release/nano-banana
if [[ ! -x $bin ]]; then
    swift build -c release --product nano-banana --scratch-path .build-release
fi

pgdir="/tmp/nb-bench-pg-$$"
mkdir -p "$pgdir" && chmod 755 "$pgdir"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash scripts/postgres.sh stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$pgdir"
}
trap cleanup EXIT
base_url=$(PG_DURABLE=1 bash scripts/postgres.sh start "$pgdir")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export NB_BODY='{"prompt":"a gold leaf sign that says '\''MEXITALY'\''","output_resolution":"512px"}'

claim_times() { # schema: prints "p50 p99" of submit→claim in ms for jobs since $2
    psql "$base_url" -At -c "SET search_path = $1" -c "
        SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY started_at - created_at) * 1000)::numeric, 1),
               round((percentile_cont(0.99) WITHIN GROUP (ORDER BY started_at - created_at) * 1000)::numeric, 1),
               count(*)
        FROM jobs WHERE status = 'COMPLETED' AND created_at >= $2" | tail -1 | tr '|' ' '
}

for count in "${counts[@]}"; do
    schema="bench_${count}_$$"
    url="$base_url?schema=$schema"
    port=$(free_port)
    pids=()
    "$bin" keys create --name bench --store "$url" >"$pgdir/key.txt"
    export NB_KEY=$(tail -1 "$pgdir/key.txt")
    "$bin" serve --store "$url" --no-workers --port "$port" --engine null --log-level warning \
        >"$pgdir/api.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

    # Drain: fill the queue with no worker running, then time the worker nodes emptying it.
    wrk -t 2 -c 16 -d 5s -s bench/submit.lua "http://127.0.0.1:$port" >/dev/null
    queued=$(psql "$base_url" -At -c "SET search_path = $schema" -c "SELECT count(*) FROM jobs" | tail -1)
    started=$(date +%s.%N)
    for n in $(seq 1 "$count"); do
        "$bin" worker --store "$url" --workers 4 --engine null --log-level warning >"$pgdir/worker$n.log" 2>&1 &
        pids+=($!)
    done
    for _ in $(seq 1 1200); do
        left=$(psql "$base_url" -At -c "SET search_path = $schema" \
            -c "SELECT count(*) FROM jobs WHERE status IN ('QUEUED', 'PROCESSING')" | tail -1)
        [[ $left == 0 ]] && break
        sleep 0.1
    done
    drained=$(date +%s.%N)
    echo "=== $count worker node(s) × 4 workers draining $queued queued jobs (no other load)"
    echo "    $(python3 -c "print(round($queued / ($drained - $started)))") jobs/s (including the nodes' start-up)"
    sleep 1

    since=$(date +%s.%N)
    echo "=== $count worker node(s) × 4 workers, null engine, 32 connections submit→poll→result, ${duration}s"
    wrk -t 32 -c 32 -d "${duration}s" -s bench/flow.lua "http://127.0.0.1:$port" | grep -E "flow:|Requests/sec"
    read -r p50 p99 jobs <<<"$(claim_times "$schema" "$since")"
    echo "    completed $jobs jobs: $(python3 -c "print(round($jobs / $duration))") jobs/s; submit→claim p50 ${p50} ms, p99 ${p99} ms"

    since=$(date +%s.%N)
    echo "=== $count worker node(s): one connection at a time (idle cluster wake-up), ${duration}s"
    wrk -t 1 -c 1 -d "${duration}s" -s bench/flow.lua "http://127.0.0.1:$port" | grep -E "flow:"
    read -r p50 p99 jobs <<<"$(claim_times "$schema" "$since")"
    echo "    completed $jobs jobs; submit→claim p50 ${p50} ms, p99 ${p99} ms"

    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
done
