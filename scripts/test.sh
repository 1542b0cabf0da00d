#!/usr/bin/env bash
# The project's one test command: format check, build (no warnings in our code), the
# Swift test suites, then the segmind Python SDK suite against the built server.
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

echo "==> swift test"
swift test --skip-build

echo "==> segmind Python SDK suite"
bash scripts/sdk-tests.sh
