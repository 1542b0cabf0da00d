#!/usr/bin/env bash
# Python SDK compatibility suite + crash-restart test against the real server.
#
#   scripts/sdk-tests.sh [extra pytest args]
#
# Needs the debug binary (`swift build --product nano-banana`) and PyPI access.
# VENV (default .build/sdk-venv) and NANO_BANANA_BIN override the defaults.
set -euo pipefail

VENV="${VENV:-.build/sdk-venv}"
source "$(dirname "${BASH_SOURCE[0]}")/python-suite.sh"
python_suite "$VENV" sdk-tests/requirements.txt

set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider sdk-tests "$@"
status=$?
set -e
exit "$status"
