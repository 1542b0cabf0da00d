# Sourced by the scripts that run a Python suite against the built server
# (sdk-tests.sh, contract-tests.sh): `python_suite VENV REQUIREMENTS` goes to the
# repository's root, checks the server binary (NANO_BANANA_BIN, default the debug build)
# and makes the venv VENV with REQUIREMENTS installed. Needs PyPI access.
python_suite() {
    local venv=$1 requirements=$2
    ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    cd "$ROOT"
    export NANO_BANANA_BIN="${NANO_BANANA_BIN:-$ROOT/.build/debug/nano-banana}"
    if [[ ! -x "$NANO_BANANA_BIN" ]]; then
        echo "error: server binary not found at $NANO_BANANA_BIN (run: swift build --product nano-banana)" >&2
        exit 2
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    # The SDK falls back to SEGMIND_API_KEY; never send a real key to the test servers.
    unset SEGMIND_API_KEY
}
