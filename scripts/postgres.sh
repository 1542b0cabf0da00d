#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: loopback TCP only, trust auth,
# durability off (fsync, synchronous_commit, full_page_writes; PG_DURABLE=1 keeps it on),
# 300 connections.
#
#   scripts/postgres.sh start DIR    # prints postgres://postgres@127.0.0.1:PORT/nanobanana
#   scripts/postgres.sh stop DIR     # fast shutdown; fine if it is not running
#   scripts/postgres.sh status DIR   # exit 0 if it runs
#
# DIR holds data/ (the cluster), sock/ (its Unix socket), postgres.log, initdb.log,
# port and url. `start` on a DIR that was started before reuses its data and its
# port (a restart after `stop`), and on a running one just prints the URL again.
# As root the server runs as the `postgres` OS user (initdb refuses root), so DIR
# and its parents must be searchable by that user (pytest's tmp dirs are not:
# they are 0700; use a dir under /tmp). PG_BIN overrides the binaries' directory.
set -euo pipefail

DB=nanobanana
# Tests trade durability for speed; benchmarks set PG_DURABLE=1 to measure a real setup.
durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [[ "${PG_DURABLE:-0}" == 1 ]]; then durability=""; fi
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

die() {
    echo "postgres.sh: error: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start|stop|status DIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
DIR=$(realpath -m -- "$2")

if [[ ! -x "$PG_BIN/pg_ctl" ]]; then
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/pg_ctl" ]] && PG_BIN=$d
    done
fi
[[ -x "$PG_BIN/pg_ctl" ]] || die "no PostgreSQL binaries in $PG_BIN (install postgresql-15, or set PG_BIN)"

# Run a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

log_tail() {
    local f
    for f in "$DIR/initdb.log" "$DIR/postgres.log"; do
        if [[ -s "$f" ]]; then
            echo "--- last 30 lines of $f ---" >&2
            tail -n 30 "$f" >&2
        fi
    done
}

running() {
    [[ -f "$DIR/data/postmaster.pid" ]] && as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        echo $((20000 + RANDOM % 30000))
    fi
}

start() {
    if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin postgres || die "could not create the postgres OS user"
    fi

    mkdir -p "$DIR"
    if running; then
        [[ -s "$DIR/url" ]] || die "a server runs on $DIR/data but $DIR/url is missing"
        cat "$DIR/url"
        return 0
    fi

    mkdir -p "$DIR/data" "$DIR/sock"
    touch "$DIR/postgres.log" "$DIR/initdb.log"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$DIR/data" "$DIR/sock" "$DIR/postgres.log" "$DIR/initdb.log"
        chmod 700 "$DIR/data"
        if ! runuser -u postgres -- test -w "$DIR/data" -a -w "$DIR/sock"; then
            die "the postgres user cannot reach $DIR (a parent directory is not searchable by it;" \
                "use a directory under /tmp, not pytest's 0700 tmp dirs)"
        fi
    fi

    if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
        if ! as_owner "$PG_BIN/initdb" -D "$DIR/data" --auth=trust -U postgres --encoding=UTF8 --no-locale \
            >"$DIR/initdb.log" 2>&1; then
            log_tail
            die "initdb failed in $DIR/data"
        fi
    fi

    # A Unix socket path is limited to ~107 bytes; a long DIR gets TCP only.
    local sockopt="-k $DIR/sock"
    if [[ ${#DIR} -gt 80 || "$DIR" == *" "* ]]; then
        echo "postgres.sh: note: $DIR is too long (or has spaces) for a Unix socket; TCP only" >&2
        sockopt="-c unix_socket_directories="
    fi

    # The port of an earlier start of this DIR is kept, so a restart keeps its URL.
    local reuse=0 port attempt
    if [[ -s "$DIR/port" ]]; then
        reuse=1
    fi
    for attempt in 1 2 3 4 5; do
        if [[ $reuse -eq 1 ]]; then
            port=$(cat "$DIR/port")
        else
            port=$(free_port)
        fi
        local before
        before=$(wc -c <"$DIR/postgres.log")
        if as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -w -t 30 -l "$DIR/postgres.log" \
            -o "-h 127.0.0.1 -p $port $sockopt $durability -c max_connections=300" \
            start >"$DIR/pg_ctl.out" 2>&1; then
            break
        fi
        # Another process took the port between our probe and the bind: try another one.
        if [[ $reuse -eq 0 ]] && tail -c +"$((before + 1))" "$DIR/postgres.log" | grep -q "could not bind\|already in use"; then
            echo "postgres.sh: port $port was taken, retrying ($attempt/5)" >&2
            continue
        fi
        cat "$DIR/pg_ctl.out" >&2
        log_tail
        die "pg_ctl start failed (data $DIR/data, port $port)"
    done
    running || { log_tail; die "PostgreSQL did not start (data $DIR/data)"; }
    echo "$port" >"$DIR/port"

    local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
    if [[ "$("${psql[@]}" -d postgres -Atc "select 1 from pg_database where datname = '$DB'" 2>>"$DIR/postgres.log")" != 1 ]]; then
        if ! "${psql[@]}" -d postgres -c "CREATE DATABASE $DB" >/dev/null 2>>"$DIR/postgres.log"; then
            log_tail
            die "could not create database $DB on port $port"
        fi
    fi

    local url="postgres://postgres@127.0.0.1:$port/$DB"
    echo "$url" >"$DIR/url"
    echo "$url"
}

stop() {
    if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
        return 0
    fi
    if ! running; then
        return 0
    fi
    if ! as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >"$DIR/pg_ctl.out" 2>&1; then
        cat "$DIR/pg_ctl.out" >&2
        log_tail
        die "pg_ctl stop failed (data $DIR/data)"
    fi
}

case "$cmd" in
start) start ;;
stop) stop ;;
status) running ;;
*) usage ;;
esac
