"""A real webhook receiver on 127.0.0.1 for the tests: it records every delivery
(path, headers, body, the status it answered) and answers by path:

- `/ok`: 200;
- `/fail/N`: 500 to the first N deliveries of each webhook-id, then 200;
- `/slow/N`: sleeps N seconds on the first delivery of each webhook-id (longer than the
  server's webhook timeout), then answers 200 at once;
- `/gone`: 410;
- anything else: 404.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def id(self) -> str:
        return self.headers.get("webhook-id", "")


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.seen: Counter = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.answer(self.path, headers.get("webhook-id", ""))
                with receiver.lock:
                    receiver.deliveries.append(Delivery(self.path, headers, body, status, time.time()))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the server gave up waiting (a timeout): its connection is gone

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, webhook_id: str) -> int:
        with self.lock:
            self.seen[(path, webhook_id)] += 1
            n = self.seen[(path, webhook_id)]
        parts = path.strip("/").split("/")
        if parts[0] == "ok":
            return 200
        if parts[0] == "fail" and len(parts) == 2:
            return 500 if n <= int(parts[1]) else 200
        if parts[0] == "slow" and len(parts) == 2:
            if n == 1:
                time.sleep(float(parts[1]))
            return 200
        if parts[0] == "gone":
            return 410
        return 404

    def of(self, webhook_id: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.id == webhook_id]

    def to(self, path: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.path == path]

    def wait(self, predicate, timeout: float, what: str):
        """Polls `predicate()` (over this receiver) until it is truthy; raises after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                with self.lock:
                    got = [(d.path, d.id, d.status) for d in self.deliveries]
                raise AssertionError(f"timed out waiting for {what}; deliveries so far: {got}")
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
