#!/usr/bin/env bash
# Python SDK compatibility suite + crash-restart test against the real server.
#
#   scripts/sdk-tests.sh [extra pytest args]
#
# Needs the debug binary (`swift build --product nano-banana`) and PyPI access.
# VENV (default .build/sdk-venv) and NANO_BANANA_BIN override the defaults.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-.build/sdk-venv}"
export NANO_BANANA_BIN="${NANO_BANANA_BIN:-$ROOT/.build/debug/nano-banana}"

if [[ ! -x "$NANO_BANANA_BIN" ]]; then
    echo "error: server binary not found at $NANO_BANANA_BIN (run: swift build --product nano-banana)" >&2
    exit 2
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r sdk-tests/requirements.txt

# The SDK falls back to SEGMIND_API_KEY; never send a real key to the test servers.
unset SEGMIND_API_KEY

set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider sdk-tests "$@"
status=$?
set -e
exit "$status"
