"""Crash-restart: `kill -9` the server with jobs running and queued, start it
again on the same data dir, and every job still completes (none lost)."""

from __future__ import annotations

import time

import httpx
import pytest

from imgutil import JPEG_MAGIC, jpeg_size
from nbserver import NanoBananaServer, scaled

MODEL = "nano-banana-2"
JOBS = 20


@pytest.fixture
def crash_server(tmp_path):
    srv = NanoBananaServer("restart", tmp_path / "data", ["--preview-latency", "1", "--workers", "2"])
    srv.start()
    yield srv
    srv.stop()


def statuses(srv: NanoBananaServer, ids: list[str]) -> dict[str, str]:
    out = {}
    with httpx.Client(headers={"x-api-key": srv.key}, timeout=10) as c:
        for rid in ids:
            r = c.get(f"{srv.base}/v2/requests/{rid}/status")
            assert r.status_code in (200, 422), (rid, r.status_code, r.text)
            out[rid] = r.json()["status"]
    return out


def test_kill_9_loses_no_jobs(crash_server):
    """20 jobs, 2 workers, 1 s each; SIGKILL mid-run; after a restart on the
    same data dir (same port) all 20 reach COMPLETED and their images download."""
    srv = crash_server
    headers = {"x-api-key": srv.key}
    ids = []
    with httpx.Client(headers=headers, timeout=10) as c:
        for i in range(JOBS):
            r = c.post(f"{srv.base}/v2/{MODEL}", json={"prompt": f"crash test {i}", "seed": i,
                                                         "output_resolution": "512px"})
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "QUEUED"
            ids.append(r.json()["request_id"])
    assert len(set(ids)) == JOBS

    deadline = time.monotonic() + scaled(10)
    while True:
        before = statuses(srv, ids)
        states = list(before.values())
        if "PROCESSING" in states and "QUEUED" in states:
            break
        assert time.monotonic() < deadline, f"never saw PROCESSING and QUEUED together: {before}"
        time.sleep(0.1)

    srv.kill()  # SIGKILL: no drain, no hand-back
    assert not srv.alive()
    srv.start()  # same data dir, same port, same key

    t0 = time.monotonic()
    deadline = t0 + scaled(90)
    while True:
        after = statuses(srv, ids)
        if all(s in ("COMPLETED", "FAILED") for s in after.values()):
            break
        assert time.monotonic() < deadline, f"jobs not finished {scaled(90):.0f} s after restart: {after}"
        time.sleep(0.5)
    recovery = time.monotonic() - t0

    failed = {rid: s for rid, s in after.items() if s != "COMPLETED"}
    assert not failed, f"jobs lost or failed across the crash (before: {before}): {failed}"
    with httpx.Client(headers=headers, timeout=10) as c:
        for rid in ids:
            body = c.get(f"{srv.base}/v2/requests/{rid}").json()
            assert body["status"] == "COMPLETED"
            img = httpx.get(body["output"], timeout=10)
            assert img.status_code == 200, (rid, body["output"], img.status_code)
            assert img.content[:3] == JPEG_MAGIC
            assert jpeg_size(img.content) == (body["width"], body["height"]) == (512, 512)
    print(f"before kill: {sorted(before.values())}; all {JOBS} COMPLETED {recovery:.1f}s after restart")
