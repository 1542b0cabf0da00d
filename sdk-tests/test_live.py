"""Live status as users call it: `curl -N` on the event stream, a long-poll and
`Prefer: wait` with httpx, the segmind SDK unchanged beside them, and the stream on
a PostgreSQL cluster whose other node runs the job."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest
import segmind

from nbserver import NanoBananaServer, scaled
from pgcluster import create_key, worker_support

MODEL = "nano-banana-2"
BODY = {"prompt": "a 'live' sign", "output_resolution": "512px"}


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """One worker and 1 s per image: a job waits in the queue behind the others."""
    srv = NanoBananaServer("live", tmp_path_factory.mktemp("live") / "data",
                           ["--workers", "1", "--preview-latency", "1"])
    srv.start()
    yield srv
    srv.stop()


def events_of(text: str) -> list[dict]:
    """The events of a text/event-stream body, as EventSource reads them."""
    events = []
    for block in text.split("\n\n"):
        event: dict = {"event": "message", "id": None, "data": None}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field in ("event", "id"):
                event[field] = value
            elif field == "data":
                event["data"] = value if event["data"] is None else event["data"] + "\n" + value
        if event["data"] is not None:
            events.append(event)
    return events


def curl_events(srv: NanoBananaServer, key: str, rid: str, *headers: str) -> list[dict]:
    args = ["curl", "-sN", "--max-time", str(scaled(120)), "-H", f"x-api-key: {key}"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, f"{srv.base}/v2/requests/{rid}/events"], capture_output=True, text=True,
                         timeout=scaled(150))
    assert out.returncode == 0, out.stderr
    return events_of(out.stdout)


def test_curl_follows_a_queued_request_to_its_result(slow):
    sdk = segmind.SegmindClient(api_key=slow.key, base_url=f"{slow.base}/v1")
    jobs = [sdk.submit_async(MODEL, **BODY) for _ in range(3)]
    events = curl_events(slow, slow.key, jobs[2].request_id)
    names = [e["event"] for e in events]
    assert names[0] == "queued" and names[-2:] == ["processing", "completed"], names
    positions = [json.loads(e["data"])["queue_position"] for e in events if e["event"] == "queued"]
    assert positions == sorted(positions, reverse=True) and positions[-1] >= 1, positions
    assert all(e["id"] == f"queued.{p}" for e, p in zip(events, positions))
    result = json.loads(events[-1]["data"])
    assert result["request_id"] == jobs[2].request_id
    image = httpx.get(result["output"], timeout=30)
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
    # The SDK, which polls, sees the same result.
    assert jobs[2].wait(timeout=scaled(60), interval=0.2)["output"] == result["output"]


def test_a_resumed_stream_sends_only_what_changed(slow):
    rid = httpx.post(f"{slow.base}/v2/{MODEL}", json=BODY, headers={"x-api-key": slow.key},
                     timeout=30).json()["request_id"]
    first = curl_events(slow, slow.key, rid)
    assert first[-1]["event"] == "completed"
    assert curl_events(slow, slow.key, rid, "Last-Event-ID: completed") == []
    assert [e["event"] for e in curl_events(slow, slow.key, rid, "Last-Event-ID: processing")] == ["completed"]


def test_long_poll_answers_when_the_request_finishes(slow):
    rid = httpx.post(f"{slow.base}/v2/{MODEL}", json=BODY, headers={"x-api-key": slow.key},
                     timeout=30).json()["request_id"]
    started = time.monotonic()
    r = httpx.get(f"{slow.base}/v2/requests/{rid}/status", params={"wait": 60}, headers={"x-api-key": slow.key},
                  timeout=90)
    assert r.status_code == 200 and r.json()["status"] == "COMPLETED", r.text
    # It answered on the finish, not at the end of the minute.
    assert time.monotonic() - started < 55
    bad = httpx.get(f"{slow.base}/v2/requests/{rid}/status", params={"wait": "120"},
                    headers={"x-api-key": slow.key}, timeout=30)
    assert bad.status_code == 400 and "'wait'" in bad.json()["error"]


def test_prefer_wait_returns_the_result_of_a_submit(slow):
    r = httpx.post(f"{slow.base}/v2/{MODEL}", json=BODY, timeout=90,
                   headers={"x-api-key": slow.key, "Prefer": "wait=60"})
    assert r.status_code == 200, r.text
    assert r.headers["preference-applied"] == "wait=60"
    body = r.json()
    assert body["status"] == "COMPLETED" and body["output"].startswith(slow.base)
    assert httpx.get(body["output"], timeout=30).status_code == 200


@pytest.mark.skipif(worker_support() is not None, reason=str(worker_support()))
def test_a_stream_on_one_node_hears_a_job_another_node_runs(cluster):
    key = create_key(cluster.pg.url, "live")
    front = cluster.api("front", ["--preview-latency", "1"], workers=False)
    cluster.api("back", ["--workers", "1", "--preview-latency", "1"])
    rid = httpx.post(f"{front.base}/v2/{MODEL}", json=BODY, headers={"x-api-key": key},
                     timeout=30).json()["request_id"]
    events = curl_events(front, key, rid)
    assert [e["event"] for e in events][-1] == "completed", events
    assert "processing" in [e["event"] for e in events] or events[0]["event"] == "completed"
    polled = httpx.get(f"{front.base}/v2/requests/{rid}/status", params={"wait": 30},
                       headers={"x-api-key": key}, timeout=60)
    assert polled.json()["status"] == "COMPLETED"
