#!/usr/bin/env bash
# The contract: validates the OpenAPI document (Sources/Contract/openapi.json) with
# openapi-spec-validator, starts the server as the README says (offline engine, a temp
# data dir, loopback) and runs schemathesis against it with every check on.
#
#   scripts/contract-tests.sh [extra `st run` arguments]
#
# Needs the debug binary (`swift build --product nano-banana`) and PyPI access.
# VENV (default .build/contract-venv), NANO_BANANA_BIN, NB_CONTRACT_EXAMPLES (per
# operation, default 50) and NB_CONTRACT_SEED override the defaults.
set -euo pipefail

VENV="${VENV:-.build/contract-venv}"
source "$(dirname "${BASH_SOURCE[0]}")/python-suite.sh"
python_suite "$VENV" contract-tests/requirements.txt

echo "==> openapi-spec-validator Sources/Contract/openapi.json"
"$VENV/bin/openapi-spec-validator" Sources/Contract/openapi.json
exec "$VENV/bin/python" contract-tests/run_contract.py "$@"
