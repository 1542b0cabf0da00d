"""Hardening seen from outside, against the real binary: what a client that walks away
leaves behind."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading

import httpx

from fakegemini import wait_until
from nbserver import NanoBananaServer, scaled

MODEL = "nano-banana-2"


def stored(srv: NanoBananaServer, sql: str, *args):
    db = sqlite3.connect(f"file:{srv.data_dir / 'nano-banana.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def test_a_v1_client_that_leaves_while_its_job_is_queued_is_neither_run_nor_charged(tmp_path):
    """One worker is busy with a slow job; a second v1 client's job waits QUEUED behind it
    and the client disconnects. The job FAILS as cancelled, is refunded, and never runs;
    the first client still gets its image."""
    srv = NanoBananaServer("leaver", tmp_path / "data", ["--workers", "1", "--preview-latency", "4"])
    srv.start(timeout=scaled(60))
    try:
        key = srv.create_key("metered", credits=1000)
        first: dict[str, httpx.Response] = {}

        def busy() -> None:
            first["r"] = httpx.post(f"{srv.base}/v1/{MODEL}", headers={"x-api-key": key},
                                    json={"prompt": "busy", "output_resolution": "512px"}, timeout=scaled(120))

        worker = threading.Thread(target=busy)
        worker.start()
        assert wait_until(lambda: stored(srv, "SELECT count(*) FROM jobs WHERE status = 'PROCESSING'")[0][0] == 1,
                          scaled(20))

        body = json.dumps({"prompt": "never mind", "output_resolution": "512px"}).encode()
        leaver = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        leaver.sendall(b"POST /v1/" + MODEL.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: "
                       + key.encode() + b"\r\ncontent-type: application/json\r\ncontent-length: "
                       + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert wait_until(lambda: stored(srv, "SELECT count(*) FROM jobs WHERE status = 'QUEUED'")[0][0] == 1,
                          scaled(20))
        leaver.close()

        assert wait_until(lambda: stored(srv, "SELECT count(*) FROM jobs WHERE status = 'FAILED'")[0][0] == 1,
                          scaled(20)), "the abandoned job was not withdrawn"
        (error, attempts), = stored(srv, "SELECT error, attempts FROM jobs WHERE status = 'FAILED'")
        assert error == "cancelled: the client disconnected before the job started" and attempts == 0
        worker.join(timeout=scaled(60))
        assert first["r"].status_code == 200 and first["r"].content[:3] == b"\xff\xd8\xff"
        # Charged for the one it got: 1000 - 45 (512px), the other reserved and refunded.
        assert first["r"].headers["x-remaining-credits"] == "955"
        kinds = [kind for kind, in stored(srv, "SELECT kind FROM credit_ledger ORDER BY seq")]
        assert sorted(kinds) == sorted(["grant", "reserve", "reserve", "refund", "settle"]), kinds
    finally:
        srv.stop()
