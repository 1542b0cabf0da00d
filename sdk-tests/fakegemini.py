"""A fake of Google's Gemini `generateContent` endpoint for the server's `--engine gemini`,
on 127.0.0.1 in a thread of the test process.

It speaks the wire format the engine reads (Sources/Engines/Gemini/GeminiWire.swift):
`POST /v1beta/models/{model}:generateContent` with an `x-goog-api-key` and a JSON body
with `contents`, answered by `{"candidates": [{"content": {"parts": [{"inlineData":
{"mimeType": "image/png", "data": "<base64>"}}]}}], "usageMetadata": {...}}`.

It can be told to hang: each call then waits until `release()` (or at most `hang`
seconds) before answering, so a test can stop the server while the engine waits on a
slow upstream. Every wait is bounded.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from imgutil import make_png

PATH = re.compile(r"^/v1beta/models/([^/:]+):generateContent$")


class FakeGemini:
    def __init__(self, hang: float = 0.0, side: int = 64) -> None:
        """`hang`: seconds each call waits before answering, unless released sooner
        (0: answer at once)."""
        self.hang = hang
        self.png = make_png(side, side, (30, 120, 200))
        self.calls: list[dict] = []  # {"model", "api_key", "body"} per request received
        # HTTP error statuses the next calls get, one each, before calls succeed again.
        self.errors: list[int] = []
        self._cond = threading.Condition()
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> "FakeGemini":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                fake._handle(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "FakeGemini":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---- control

    def release(self) -> None:
        """Lets every hanging call (and every later one) answer at once."""
        self._released.set()

    def wait_for_calls(self, n: int, timeout: float) -> bool:
        """Whether `n` calls have arrived within `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= n, timeout=timeout)

    # ---- the endpoint

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        match = PATH.match(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        if match is None:
            return self._reply(h, 404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})
        try:
            body = json.loads(raw)
            assert isinstance(body.get("contents"), list) and body["contents"]
        except (ValueError, AssertionError):
            return self._reply(h, 400, {"error": {"code": 400, "message": "Invalid JSON payload",
                                                  "status": "INVALID_ARGUMENT"}})
        with self._cond:
            self.calls.append({"model": match.group(1), "api_key": h.headers.get("x-goog-api-key"), "body": body})
            self._cond.notify_all()
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            return self._reply(h, error, {"error": {"code": error, "message": f"told to answer {error}",
                                                    "status": "RESOURCE_EXHAUSTED" if error == 429 else "ERROR"}})
        if self.hang > 0:
            self._released.wait(timeout=self.hang)
        reply = {
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"text": "thinking", "thought": True},
                    {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(self.png).decode()}},
                ]},
                "finishReason": "STOP",
            }],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302},
        }
        self._reply(h, 200, reply)

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        """Writes a JSON answer, unless the client has gone (it cancelled the call)."""
        data = json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            pass


def wait_until(condition, timeout: float, interval: float = 0.1):
    """Polls `condition` until it returns something truthy (returned) or `timeout` seconds
    pass (then the last falsy value is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
