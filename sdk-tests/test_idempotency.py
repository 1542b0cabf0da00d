"""Idempotent submits and the key's balance, as clients use them: the unmodified segmind
SDK (1.3.0) with an `Idempotency-Key` on its own transport, plain HTTP where the SDK has
no call (it sends no per-request headers), and 50 concurrent identical submits over two
PostgreSQL nodes that make one job and one charge.

The SDK has no call for the balance: `accounts.current()` goes to a fixed
`https://cloud.segmind.com` address that no base URL changes. Its transport
(`client._request`) reaches `/v1/get-user-credits` like any other path of the base URL."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import segmind
from segmind.exceptions import SegmindError
from segmind.v2 import AsyncJob

from nbserver import scaled
from pgcluster import create_key, worker_support

MODEL = "nano-banana-2"
REPLAYED = "idempotent-replayed"


def keyed_client(server, key: str, idempotency_key: str) -> segmind.SegmindClient:
    """The SDK, unmodified, with the header on every request its transport sends."""
    c = segmind.SegmindClient(api_key=key, base_url=f"{server.base}/v1")
    c._client.headers["Idempotency-Key"] = idempotency_key
    return c


def post(base: str, path: str, key: str, idempotency_key: str | None, body: dict) -> httpx.Response:
    headers = {"x-api-key": key}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return httpx.post(f"{base}{path}", headers=headers, json=body, timeout=scaled(60))


def test_sdk_submit_async_twice_is_one_request(server):
    c = keyed_client(server, server.key, f"sdk-{uuid.uuid4()}")
    try:
        first = c.submit_async(MODEL, prompt="a 'once' sign", output_resolution="512px")
        second = c.submit_async(MODEL, prompt="a 'once' sign", output_resolution="512px")
        assert second.request_id == first.request_id
        assert second.submit_response == first.submit_response
        # The same key with another body: 422 naming the header, through the SDK's error.
        with pytest.raises(SegmindError) as ei:
            c.submit_async(MODEL, prompt="another sign", output_resolution="512px")
        assert ei.value.status == 422 and "Idempotency-Key" in (ei.value.detail or "")
        result = second.wait(timeout=scaled(60), interval=0.2)
        assert result["status"] == "COMPLETED" and result["request_id"] == first.request_id
    finally:
        c._client.close()


def test_plain_http_submit_then_sdk_polls(server, client):
    key = f"http-{uuid.uuid4()}"
    body = {"prompt": "a 'polled' sign", "output_resolution": "512px"}
    first = post(server.base, f"/v2/{MODEL}", server.key, key, body)
    again = post(server.base, f"/v2/{MODEL}", server.key, key, {**body, "seed": 420875})
    assert first.status_code == 200 and again.status_code == 200, again.text
    assert REPLAYED not in first.headers and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    submitted = first.json()
    job = AsyncJob(request_id=submitted["request_id"], status_url=submitted["status_url"],
                   response_url=submitted["response_url"], submit_response=submitted, _client=client)
    assert job.wait(timeout=scaled(60), interval=0.2)["status"] == "COMPLETED"


def test_run_sync_replays_the_same_image(server):
    c = keyed_client(server, server.key, f"sync-{uuid.uuid4()}")
    try:
        first = c.run_sync(MODEL, prompt="a 'sync' sign", output_resolution="512px", seed=3)
        again = c.run_sync(MODEL, prompt="a 'sync' sign", output_resolution="512px", seed=3)
        assert again.content == first.content and first.content[:3] == b"\xff\xd8\xff"
        assert again.headers["x-request-id"] == first.headers["x-request-id"]
        assert REPLAYED not in first.headers and again.headers[REPLAYED] == "true"
    finally:
        c._client.close()


def test_a_failed_request_replays_as_failed(server):
    c = keyed_client(server, server.key, f"fail-{uuid.uuid4()}")
    try:
        errors = []
        for _ in range(2):
            with pytest.raises(SegmindError) as ei:
                c.run_sync(MODEL, prompt="forbidden fruit", output_resolution="512px")
            errors.append(ei.value)
        assert [e.status for e in errors] == [422, 422]
        assert errors[0].detail == errors[1].detail and "Content blocked" in errors[0].detail
    finally:
        c._client.close()


def test_bad_keys_are_400(server):
    for bad in ["", "x" * 256]:
        r = post(server.base, f"/v2/{MODEL}", server.key, bad, {"prompt": "x"})
        assert r.status_code == 400, (bad, r.text)
        assert "Idempotency-Key" in r.json()["error"]


def test_a_key_is_fresh_again_once_its_result_expired(server):
    """The main server keeps results 4 s: then the key has nothing to replay."""
    key = f"expiring-{uuid.uuid4()}"
    body = {"prompt": "a 'short lived' sign", "output_resolution": "512px"}
    first = post(server.base, f"/v2/{MODEL}", server.key, key, body).json()["request_id"]
    deadline = time.monotonic() + scaled(30)
    while True:
        r = post(server.base, f"/v2/{MODEL}", server.key, key, body)
        assert r.status_code == 200, r.text
        if REPLAYED not in r.headers:
            break
        assert r.json()["request_id"] == first
        assert time.monotonic() < deadline, "the key still replays long after the retention"
        time.sleep(0.5)
    assert r.json()["request_id"] != first


def test_balance_through_the_sdk_transport(server):
    unmetered = segmind.SegmindClient(api_key=server.key, base_url=f"{server.base}/v1")
    metered_key = server.create_key(f"credits-{uuid.uuid4().hex[:8]}", credits=1000)
    metered = keyed_client(server, metered_key, f"paid-{uuid.uuid4()}")
    try:
        assert unmetered._request("GET", "/get-user-credits").json() == {
            "credits": None, "free-credits": 0, "metered": False}
        assert metered._request("GET", "/get-user-credits").json() == {
            "credits": 1000, "free-credits": 0, "metered": True}
        # Two submits with one key: one charge (45 credits at 512px).
        for _ in range(2):
            metered.submit_async(MODEL, prompt="a 'paid' sign", output_resolution="512px")
        assert metered._request("GET", "/get-user-credits").json()["credits"] == 955
    finally:
        unmetered._client.close()
        metered._client.close()


@pytest.mark.skipif(worker_support() is not None, reason=str(worker_support()))
def test_fifty_concurrent_submits_over_two_postgres_nodes(cluster):
    key = create_key(cluster.pg.url, "idem", credits=10_000)
    key_id = cluster.pg.psql("SELECT id FROM api_keys WHERE name = 'idem'")
    nodes = [cluster.api(f"api{i}", ["--workers", "2"]) for i in range(2)]
    body = {"prompt": "a 'cluster' sign", "output_resolution": "1K"}

    def send(i: int) -> httpx.Response:
        return post(nodes[i % 2].base, f"/v2/{MODEL}", key, "cluster-once", body)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(send, range(50)))
    assert [r.status_code for r in answers] == [200] * 50, [r.text for r in answers if r.status_code != 200]
    assert len({r.json()["request_id"] for r in answers}) == 1
    assert sum(REPLAYED not in r.headers for r in answers) == 1
    assert cluster.pg.scalar("SELECT count(*) FROM jobs") == 1
    assert cluster.pg.scalar(
        f"SELECT count(*) FROM credit_ledger WHERE key_id = '{key_id}' AND kind = 'reserve'") == 1
    # The request runs to its end, read through the other node with the SDK.
    c = segmind.SegmindClient(api_key=key, base_url=f"{nodes[1].base}/v1")
    try:
        submitted = answers[0].json()
        job = AsyncJob(request_id=submitted["request_id"], status_url=submitted["status_url"],
                       response_url=submitted["response_url"], submit_response=submitted, _client=c)
        assert job.wait(timeout=scaled(60), interval=0.2)["status"] == "COMPLETED"
        assert c._request("GET", "/get-user-credits").json()["credits"] == 10_000 - 67
    finally:
        c._client.close()
