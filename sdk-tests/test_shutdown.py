"""Graceful shutdown while the Gemini engine waits on a slow upstream (a fake of Google's
API on loopback): SIGTERM never FAILS the job. A job that finishes within the drain
timeout is COMPLETED; one still waiting when the drain timeout passes is handed back to
the queue (QUEUED) and COMPLETES after a restart. Either way the process exits 0 and the
metered key is charged exactly once: one reserve, one settle, no refund."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess

import httpx
import pytest
import segmind

from fakegemini import FakeGemini, wait_until
from nbserver import BIN, NanoBananaServer, scaled

MODEL = "nano-banana-2"
PRICE = 45  # 512px (the default NANO_BANANA_PRICES)
INITIAL = 1000
# Longer than any drain timeout below (the default 10 s, or NANO_BANANA_DRAIN_TIMEOUT where
# the server reads it): the upstream answers only when the test releases it.
HANG = 120.0
LEDGER_ROW = re.compile(r"^\d\S+\s+(\w+)\s+(-?\d+)\s+(-?\d+)\s*(\S*)$")


@pytest.fixture
def upstream():
    with FakeGemini(hang=HANG) as fake:
        yield fake


def gemini_server(tmp_path, upstream: FakeGemini, drain: float) -> NanoBananaServer:
    """One worker on the Gemini engine, pointed at the fake. `drain` goes to
    NANO_BANANA_DRAIN_TIMEOUT, which a server that does not read it ignores (then the
    drain timeout is the default 10 s)."""
    srv = NanoBananaServer("shutdown", tmp_path / "data", ["--engine", "gemini", "--workers", "1"],
                           env={"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": upstream.base,
                                "NANO_BANANA_DRAIN_TIMEOUT": str(drain)})
    srv.start(timeout=scaled(60))
    return srv


def submit_metered(srv: NanoBananaServer) -> tuple[str, str]:
    """A metered key and one v2 job submitted with it through the segmind SDK."""
    key = srv.create_key("metered", credits=INITIAL)
    client = segmind.SegmindClient(api_key=key, base_url=f"{srv.base}/v1")
    try:
        job = client.submit_async(MODEL, prompt="a 'SHUTDOWN' sign", output_resolution="512px")
    finally:
        client._client.close()
    return key, job.request_id


def status(srv: NanoBananaServer, key: str, rid: str) -> str:
    r = httpx.get(f"{srv.base}/v2/requests/{rid}/status", headers={"x-api-key": key}, timeout=scaled(10))
    assert r.status_code in (200, 422), (r.status_code, r.text)
    return r.json()["status"]


def stored_job(srv: NanoBananaServer, rid: str) -> tuple[str, int, str | None]:
    """(status, attempts, error) of a job, read from the database while no server runs."""
    db = sqlite3.connect(f"file:{srv.data_dir / 'nano-banana.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        row = db.execute("SELECT status, attempts, error FROM jobs WHERE id = ?", (rid,)).fetchone()
    finally:
        db.close()
    assert row is not None, f"job {rid} is not in the database"
    return row


def ledger(srv: NanoBananaServer, name: str = "metered") -> tuple[int, list[tuple[str, int, str]]]:
    """The key's balance and its credit history as (kind, amount, request id), through
    `nano-banana keys show`."""
    out = subprocess.run([BIN, "keys", "show", name, "--data-dir", str(srv.data_dir)], capture_output=True,
                         text=True, timeout=scaled(30), env=srv.env)
    assert out.returncode == 0, out.stderr
    credits = re.search(r"^Credits:\s+(\d+)$", out.stdout, re.M)
    assert credits, out.stdout
    rows = [(m.group(1), int(m.group(2)), m.group(4)) for m in map(LEDGER_ROW.match, out.stdout.splitlines()) if m]
    return int(credits.group(1)), rows


def assert_charged_once(srv: NanoBananaServer, rid: str) -> None:
    balance, rows = ledger(srv)
    mine = [(kind, amount) for kind, amount, request in rows if request == rid]
    assert mine == [("reserve", -PRICE), ("settle", 0)], f"the request's credit history: {rows}"
    assert not [row for row in rows if row[0] == "refund"], rows
    assert balance == INITIAL - PRICE, f"balance {balance}, history {rows}"


def wait_processing(srv: NanoBananaServer, upstream: FakeGemini, key: str, rid: str) -> None:
    assert upstream.wait_for_calls(1, timeout=scaled(30)), "the engine never called the upstream"
    assert wait_until(lambda: status(srv, key, rid) == "PROCESSING", scaled(10)), status(srv, key, rid)


def wait_completed(srv: NanoBananaServer, key: str, rid: str) -> dict:
    assert wait_until(lambda: status(srv, key, rid) in ("COMPLETED", "FAILED"), scaled(30)), status(srv, key, rid)
    body = httpx.get(f"{srv.base}/v2/requests/{rid}", headers={"x-api-key": key}, timeout=scaled(10)).json()
    assert body["status"] == "COMPLETED", body
    image = httpx.get(body["output"], timeout=scaled(10))
    assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff", image.content[:8]
    return body


def test_sigterm_past_the_drain_hands_the_job_back_and_it_is_charged_once(tmp_path, upstream):
    """The upstream hangs past the drain timeout: SIGTERM exits 0 with the job QUEUED
    (handed back, not FAILED, attempt not counted); after a restart with a fast upstream
    it COMPLETES, reserved once and settled once."""
    srv = gemini_server(tmp_path, upstream, drain=1)
    try:
        key, rid = submit_metered(srv)
        wait_processing(srv, upstream, key, rid)

        rc = srv.terminate(grace=scaled(30))
        assert rc == 0, f"SIGTERM: exit {rc}\n{srv.tail()}"
        assert stored_job(srv, rid) == ("QUEUED", 0, None)
        assert "Job handed back to the queue" in srv.tail(200)
        balance, rows = ledger(srv)
        assert [(k, a) for k, a, r in rows if r == rid] == [("reserve", -PRICE)] and balance == INITIAL - PRICE

        upstream.release()  # the upstream is fast from now on
        srv.start(timeout=scaled(60))
        wait_completed(srv, key, rid)
        assert len(upstream.calls) == 2  # the cancelled call, then the one after the restart
        assert_charged_once(srv, rid)
    finally:
        upstream.release()
        srv.stop()


def test_sigterm_within_the_drain_finishes_the_job_and_it_is_charged_once(tmp_path, upstream):
    """The upstream answers after SIGTERM but within the drain timeout: the job COMPLETES
    before the process exits 0, is not run again after a restart, and is charged once."""
    srv = gemini_server(tmp_path, upstream, drain=60)
    try:
        key, rid = submit_metered(srv)
        wait_processing(srv, upstream, key, rid)

        srv.proc.send_signal(signal.SIGTERM)
        # The server has begun shutting down once its listener refuses connections.
        def refused() -> bool:
            try:
                httpx.get(f"{srv.base}/healthz", timeout=scaled(2))
                return False
            except httpx.TransportError:
                return True
        assert wait_until(refused, scaled(10)), "still serving 10 s after SIGTERM"
        assert srv.alive(), "exited before the job finished"
        upstream.release()
        rc = srv.terminate(grace=scaled(30))
        assert rc == 0, f"SIGTERM: exit {rc}\n{srv.tail()}"
        assert stored_job(srv, rid)[0] == "COMPLETED"
        assert "Job handed back to the queue" not in srv.tail(200)
        assert_charged_once(srv, rid)

        srv.start(timeout=scaled(60))
        wait_completed(srv, key, rid)
        assert len(upstream.calls) == 1
        assert_charged_once(srv, rid)
    finally:
        upstream.release()
        srv.stop()


def test_sigterm_answers_v1_waiters_503_within_the_drain_and_starts_no_queued_job(tmp_path, upstream):
    """Two v1 (sync) clients wait: one on the job the only worker runs (its upstream hangs),
    one on a job still QUEUED behind it. SIGTERM: both get a 503 that names their request
    id (the queued one at once, the running one at the drain timeout), the queued job is
    never started, both stay QUEUED with no attempt counted, and the process exits 0."""
    import threading

    srv = gemini_server(tmp_path, upstream, drain=2)
    try:
        key = srv.create_key("metered", credits=INITIAL)
        answers: dict[str, httpx.Response] = {}

        def sync(name: str) -> None:
            answers[name] = httpx.post(f"{srv.base}/v1/{MODEL}", headers={"x-api-key": key},
                                       json={"prompt": f"a '{name}' sign", "output_resolution": "512px"},
                                       timeout=scaled(120))

        running = threading.Thread(target=sync, args=("running",))
        running.start()
        assert upstream.wait_for_calls(1, timeout=scaled(30)), "the engine never called the upstream"
        queued = threading.Thread(target=sync, args=("queued",))
        queued.start()
        db_path = srv.data_dir / "nano-banana.sqlite"

        def queued_count() -> int:
            db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
            try:
                return db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'QUEUED'").fetchone()[0]
            finally:
                db.close()
        assert wait_until(lambda: queued_count() == 1, scaled(10)), "the second job was never queued"

        srv.proc.send_signal(signal.SIGTERM)
        queued.join(timeout=scaled(30))
        running.join(timeout=scaled(30))
        assert not queued.is_alive() and not running.is_alive(), "a v1 client still waits after the drain"
        rc = srv.terminate(grace=scaled(30))
        assert rc == 0, f"SIGTERM: exit {rc}\n{srv.tail()}"

        for name in ("running", "queued"):
            response = answers[name]
            assert response.status_code == 503, (name, response.status_code, response.text)
            body = response.json()
            assert body["request_id"] in body["error"], body
            assert body["status"] == ("PROCESSING" if name == "running" else "QUEUED"), body
            assert stored_job(srv, body["request_id"]) == ("QUEUED", 0, None)
        assert len(upstream.calls) == 1, "a job queued at SIGTERM was started"
    finally:
        upstream.release()
        srv.stop()
