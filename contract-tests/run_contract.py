"""The contract run: a live server started as the README says, its OpenAPI document
validated, then schemathesis over every operation with every check on.

    python contract-tests/run_contract.py [extra `st run` arguments]

NANO_BANANA_BIN names the server binary (default: the debug build). NB_CONTRACT_EXAMPLES
bounds the examples per operation (default 50); NB_CONTRACT_SEED fixes schemathesis's
seed (default: a new one each run, printed by schemathesis to replay a failure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import schemathesis
from openapi_spec_validator import validate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "sdk-tests"))

from nbserver import BIN, NanoBananaServer  # noqa: E402

DOCUMENT = HERE.parent / "Sources" / "Contract" / "openapi.json"


def admin_key(server: NanoBananaServer) -> str:
    """An admin key made with the CLI while the server runs (the first-run key is a user
    key, and the admin routes answer only admin keys)."""
    out = subprocess.run(
        [BIN, "keys", "create", "--name", "contract-admin", "--admin", "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=60, env=server.env, check=True)
    secret = out.stdout.strip().splitlines()[-1].strip()
    assert secret.startswith("nb_"), out.stdout + out.stderr
    return secret


def check_document(server: NanoBananaServer) -> None:
    """GET /openapi.json without a key is the document in the repository, and valid
    OpenAPI 3.1."""
    r = httpx.get(server.base + "/openapi.json", timeout=30)
    assert r.status_code == 200, f"GET /openapi.json: {r.status_code} {r.text[:200]}"
    assert r.headers["content-type"] == "application/json", r.headers
    served = r.json()
    validate(served)
    written = json.loads(DOCUMENT.read_text("utf-8"))
    validate(written)
    assert served == written, "the served document differs from Sources/Contract/openapi.json"
    print(f"==> {DOCUMENT.relative_to(HERE.parent)}: valid OpenAPI {served['openapi']}, "
          f"{sum(len([m for m in item if m != 'parameters']) for item in served['paths'].values())} operations, "
          "served as written")


def check_signed_file(server: NanoBananaServer, key: str) -> None:
    """The 200 of `/v2/files/{name}`, which schemathesis cannot reach (it cannot sign a
    link): a real result's link, fetched with GET and HEAD, checked against the document by
    schemathesis's own checks."""
    schema = schemathesis.openapi.from_url(server.base + "/openapi.json")
    auth = {"x-api-key": key}
    submitted = httpx.post(server.base + "/v2/nano-banana-2", headers=auth, timeout=30,
                           json={"prompt": "a sign that says 'contract'", "output_format": "png"})
    assert submitted.status_code == 200, submitted.text
    deadline = time.monotonic() + 60
    while True:
        result = httpx.get(submitted.json()["response_url"], headers=auth, timeout=30)
        if result.status_code != 202 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert result.status_code == 200, result.text
    link = urlsplit(result.json()["output"])
    query = {name: values[0] for name, values in parse_qs(link.query).items()}
    for method in ("GET", "HEAD"):
        case = schema["/v2/files/{name}"][method].Case(
            path_parameters={"name": link.path.rsplit("/", 1)[1]},
            query={"expires": int(query["expires"]), "signature": query["signature"]})
        response = case.call_and_validate(base_url=server.base)
        assert response.status_code == 200, f"{method} {result.json()['output']}: {response.status_code}"
    print("==> a signed link's GET and HEAD: 200, as the document says")


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver on loopback that takes every delivery (204)."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    examples = os.environ.get("NB_CONTRACT_EXAMPLES", "50")
    with tempfile.TemporaryDirectory(prefix="nb-contract-") as tmp:
        # Submits name this receiver as their `webhook` (hooks.py): a schema-valid
        # URL the server delivers to. Any other host would have to resolve to a public
        # address, which this offline run cannot offer; the document says such a URL is a 400.
        receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        hook = f"127.0.0.1:{receiver.server_address[1]}"
        # The README's command, on loopback, with the offline engine that answers at once,
        # and the receiver let through.
        server = NanoBananaServer(
            "contract", Path(tmp) / "data", ["--engine", "null", "--allow-webhook-host", hook])
        server.start()
        try:
            assert server.key, "no first-run key in the server's output"
            check_document(server)
            check_signed_file(server, server.key)
            # hooks.py sends a submit's schema-valid `webhook` as this receiver.
            env = dict(os.environ, NB_CONTRACT_KEY=admin_key(server), NB_CONTRACT_WEBHOOK=f"http://{hook}/contract",
                       SCHEMATHESIS_HOOKS="hooks",
                       PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
            command = [
                str(Path(sys.executable).parent / "st"), "--config-file", str(HERE / "schemathesis.toml"),
                "run", server.base + "/openapi.json",
                "--checks", "all",
                "--max-examples", examples,
                # One worker: Hypothesis parses lambdas' source as it draws, and with two
                # threads Python 3.11's parser now and then fails ("SystemError: AST
                # constructor recursion depth mismatch"), a schemathesis error, not a finding.
                "--workers", "1",
                *(["--seed", os.environ["NB_CONTRACT_SEED"]] if os.environ.get("NB_CONTRACT_SEED") else []),
                *sys.argv[1:],
            ]
            print("==> st " + " ".join(command[1:]), flush=True)
            status = subprocess.run(command, env=env, cwd=tmp).returncode
            if status != 0 or not server.alive():
                print(server.tail(), file=sys.stderr)
            return status if server.alive() else 1
        finally:
            server.stop()
            receiver.shutdown()


if __name__ == "__main__":
    sys.exit(main())
