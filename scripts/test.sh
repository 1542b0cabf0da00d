#!/usr/bin/env bash
# The project's one test command: format check, build (no warnings in our code), the
# Swift test suites (store and route suites on SQLite and on a throwaway PostgreSQL),
# then the segmind Python SDK suite against the built server (its cluster and outage
# tests start PostgreSQL clusters of their own), then the contract (schemathesis against
# the OpenAPI document).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> swift format lint"
swift format lint --strict -r Sources Tests Package.swift

echo "==> swift build --build-tests"
log=$(mktemp)
if ! swift build --build-tests 2>&1 | tee "$log" | grep -E "error:|warning:|Compiling|Build complete" | grep -v "^\[" ; then :; fi
if grep -qE "error:" "$log" || ! grep -q "Build complete" "$log"; then
    echo "build failed"; exit 1
fi
if grep -E "^$(pwd)/(Sources|Tests)/.*warning:" "$log"; then
    echo "warnings in the project's own code (listed above) are errors"; exit 1
fi

echo "==> PostgreSQL for the suites (a throwaway cluster on loopback)"
pgdir="/tmp/nb-test-pg-$$"
mkdir -p "$pgdir" && chmod 755 "$pgdir"
cleanup_pg() { bash scripts/postgres.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap cleanup_pg EXIT
NANO_BANANA_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start "$pgdir")
export NANO_BANANA_TEST_POSTGRES_URL
echo "    $NANO_BANANA_TEST_POSTGRES_URL"

echo "==> swift test (store suites on SQLite and PostgreSQL, routes on SQLite)"
swift test --skip-build

echo "==> swift test: the route suite again, on PostgreSQL"
NANO_BANANA_TEST_ROUTES_ON_POSTGRES=1 swift test --skip-build --filter ServerTests

echo "==> segmind Python SDK suite"
bash scripts/sdk-tests.sh

echo "==> the contract: the OpenAPI document validated, schemathesis against a live server"
bash scripts/contract-tests.sh

echo "==> abuse round: peak RSS and open connections under hostile clients (bench/abuse.py)"
NANO_BANANA_BIN="$(pwd)/.build/debug/nano-banana" .build/sdk-venv/bin/python bench/abuse.py
