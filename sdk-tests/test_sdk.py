"""The unmodified `segmind` Python SDK (PyPI 1.3.0) against a real server.

Each test names one behaviour of the wire protocol the SDK relies on.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import segmind
from segmind.exceptions import SegmindError
from segmind.v2 import AsyncJob, InferenceFailed, InferenceTimeout

from imgutil import (JPEG_MAGIC, PNG_MAGIC, corrupt_png, data_url, image_size, jpeg_size, make_png,
                     png_size)
from nbserver import scaled

MODEL = "nano-banana-2"
FAST = {"output_resolution": "512px"}


def fetch(url: str) -> httpx.Response:
    """GET with no API key at all."""
    return httpx.get(url, timeout=30)


def run_fast(client, **params) -> dict:
    """Like client.run (submit + wait) but polling every 0.2 s instead of 1 s."""
    return client.submit_async(MODEL, **params).wait(timeout=30, interval=0.2)


def poll_until(fn, pred, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if pred(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(interval)


def error_json(resp: httpx.Response) -> str:
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


# ---------------------------------------------------------------- happy paths


def test_run_returns_completed_result_with_downloadable_jpeg(client):
    """client.run: COMPLETED, absolute output URL that downloads without a key,
    real JPEG of the size the body states, numeric metrics, engine preview."""
    result = client.run(MODEL, prompt="a gold leaf sign that says 'MEXITALY'", output_resolution="512px")
    assert result["status"] == "COMPLETED"
    assert result["engine"] == "preview"
    assert isinstance(result["metrics"]["inference_time"], (int, float))
    for k in ("queue_time", "total_time", "retry_count"):
        assert isinstance(result["metrics"][k], (int, float)), k
    assert (result["width"], result["height"]) == (512, 512)
    assert result["output_format"] == "jpg"
    assert result["request_id"]
    url = result["output"]
    assert url.startswith("http://127.0.0.1:"), url
    img = fetch(url)
    assert img.status_code == 200, img.text
    assert img.content[:3] == JPEG_MAGIC
    assert jpeg_size(img.content) == (result["width"], result["height"])


def test_run_sync_returns_png_bytes_and_headers(client):
    """run_sync: 200 image/png 1376x768 for 16:9 at 1K, with x-request-id,
    x-seed-value (== the seed sent) and x-generation-time."""
    resp = client.run_sync(MODEL, prompt="a cinematic harbour", aspect_ratio="16:9", output_format="png",
                           output_resolution="1K", seed=12345)
    assert isinstance(resp, httpx.Response)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("image/png")
    assert resp.content[:8] == PNG_MAGIC
    assert png_size(resp.content) == (1376, 768)
    assert resp.headers["x-request-id"]
    assert resp.headers["x-seed-value"] == "12345"
    float(resp.headers["x-generation-time"])


def test_submit_async_status_wait_and_result(client):
    """submit_async: request_id at once; status QUEUED/PROCESSING right away;
    wait() returns the COMPLETED body; result() agrees."""
    job = client.submit_async(MODEL, prompt="a lighthouse at dusk", **FAST)
    assert isinstance(job, AsyncJob)
    assert job.request_id
    assert job.submit_response["status"] == "QUEUED"
    assert job.submit_response["poll_url"] == job.status_url
    first = job.status()
    assert first["status"] in ("QUEUED", "PROCESSING"), first
    assert first["request_id"] == job.request_id
    done = job.wait(timeout=30, interval=0.2)
    assert done["status"] == "COMPLETED"
    assert done["request_id"] == job.request_id
    again = job.result()
    assert again["status"] == "COMPLETED"
    assert again["output"] == done["output"]
    assert job.status()["status"] == "COMPLETED"


def test_wait_times_out_with_inference_timeout(client):
    """wait() with a deadline shorter than the job raises InferenceTimeout;
    the job still completes afterwards."""
    job = client.submit_async(MODEL, prompt="a slow one", **FAST)
    with pytest.raises(InferenceTimeout) as ei:
        job.wait(timeout=0.05, interval=0.01)
    assert ei.value.request_id == job.request_id
    assert job.wait(timeout=30, interval=0.2)["status"] == "COMPLETED"


# ---------------------------------------------------------------- failures


def test_blocked_prompt_fails_with_inference_failed(client, raw):
    """A prompt with a blocked word: InferenceFailed naming the block; status()
    returns the FAILED body; raw HTTP of /status and the result is 422."""
    job = client.submit_async(MODEL, prompt="something forbidden here", **FAST)
    with pytest.raises(InferenceFailed) as ei:
        job.wait(timeout=30, interval=0.2)
    assert "Content blocked" in ei.value.detail
    assert "forbidden" in ei.value.detail
    assert ei.value.status_body["status"] == "FAILED"
    body = job.status()
    assert body["status"] == "FAILED"
    assert body["error"].startswith("Content blocked:")
    r = raw.get(job.status_url)
    assert r.status_code == 422
    assert r.json()["status"] == "FAILED" and r.json()["request_id"] == job.request_id
    r = raw.get(job.response_url)
    assert r.status_code == 422
    assert r.json()["error"].startswith("Content blocked:")


def test_blocked_prompt_via_run_sync_is_422(client):
    """The v1 route reports a FAILED job as 422 with the error and request_id."""
    with pytest.raises(SegmindError) as ei:
        client.run_sync(MODEL, prompt="forbidden fruit", **FAST)
    assert ei.value.status == 422
    assert ei.value.detail.startswith("Content blocked:")


def test_bad_key_is_401(server):
    """A wrong key: SegmindError 401 with a JSON error."""
    c = segmind.SegmindClient(api_key="nb_not-a-real-key", base_url=f"{server.base}/v1")
    with pytest.raises(SegmindError) as ei:
        c.run_sync(MODEL, prompt="x")
    assert ei.value.status == 401 and ei.value.detail
    with pytest.raises(SegmindError) as ei:
        c.submit_async(MODEL, prompt="x")
    assert ei.value.status == 401 and ei.value.detail


def test_missing_key_is_401(server, monkeypatch):
    """No key at all (SDK with empty key and no SEGMIND_API_KEY): 401."""
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    c = segmind.SegmindClient(api_key="", base_url=f"{server.base}/v1")
    assert "x-api-key" not in c._client.headers
    with pytest.raises(SegmindError) as ei:
        c.submit_async(MODEL, prompt="x")
    assert ei.value.status == 401 and ei.value.detail
    r = httpx.post(f"{server.base}/v1/{MODEL}", json={"prompt": "x"}, timeout=10)
    assert r.status_code == 401
    error_json(r)


def test_revoked_key_is_401(server):
    """A key revoked with `keys revoke` stops working."""
    import subprocess

    from nbserver import BIN

    secret = server.create_key("to-revoke")
    c = segmind.SegmindClient(api_key=secret, base_url=f"{server.base}/v1")
    assert c.run_sync(MODEL, prompt="ok", **FAST).status_code == 200
    subprocess.run([BIN, "keys", "revoke", "to-revoke", "--data-dir", str(server.data_dir)],
                   check=True, capture_output=True, timeout=30, env=server.env)
    with pytest.raises(SegmindError) as ei:
        c.run_sync(MODEL, prompt="ok", **FAST)
    assert ei.value.status == 401


TINY = data_url(make_png(8, 8))

BAD_PARAMS = {
    "unknown_parameter": ({"prompt": "x", "colour": "blue"}, "colour"),
    "aspect_ratio_7_3": ({"prompt": "x", "aspect_ratio": "7:3"}, "aspect_ratio"),
    "safety_tolerance_9": ({"prompt": "x", "safety_tolerance": 9}, "safety_tolerance"),
    "prompt_missing": ({"seed": 1}, "prompt"),
    "seed_wrong_type": ({"prompt": "x", "seed": "abc"}, "seed"),
    "fifteen_image_urls": ({"prompt": "x", "image_urls": [TINY] * 15}, "image_urls"),
    "bad_data_url": ({"prompt": "x", "image_urls": ["data:image/png;base64,%%%not-base64%%%"]}, "image_urls"),
    "bad_output_format": ({"prompt": "x", "output_format": "gif"}, "output_format"),
}


@pytest.mark.parametrize("route", ["run_sync", "submit_async"])
@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_parameters_are_400(client, route, case):
    """Bad parameters: SegmindError 400 whose detail names the field."""
    params, field = BAD_PARAMS[case]
    with pytest.raises(SegmindError) as ei:
        getattr(client, route)(MODEL, **params)
    assert ei.value.status == 400, (ei.value.status, ei.value.detail)
    assert field in ei.value.detail, ei.value.detail


def test_malformed_json_is_400(server):
    """A body that is not JSON: 400 with a JSON error."""
    r = httpx.post(f"{server.base}/v2/{MODEL}", content=b"{not json",
                   headers={"x-api-key": server.key, "content-type": "application/json"}, timeout=10)
    assert r.status_code == 400
    error_json(r)


def test_unknown_model_is_404(client):
    """An unknown model slug: 404 from run_sync and from submit_async."""
    with pytest.raises(SegmindError) as ei:
        client.run_sync("no-such-model", prompt="x")
    assert ei.value.status == 404 and ei.value.detail
    with pytest.raises(SegmindError) as ei:
        client.submit_async("no-such-model", prompt="x")
    assert ei.value.status == 404 and ei.value.detail


def test_unknown_request_id_is_404(client, server):
    """status()/result() of a made-up request id: SegmindError 404."""
    rid = "00000000-0000-4000-8000-000000000000"
    job = AsyncJob(request_id=rid, status_url=f"{server.base}/v2/requests/{rid}/status",
                   response_url=f"{server.base}/v2/requests/{rid}", submit_response={}, _client=client)
    with pytest.raises(SegmindError) as ei:
        job.status()
    assert ei.value.status == 404 and ei.value.detail
    with pytest.raises(SegmindError) as ei:
        job.result()
    assert ei.value.status == 404
    with pytest.raises(SegmindError) as ei:
        job.wait(timeout=5, interval=0.2)
    assert ei.value.status == 404


def test_other_keys_job_is_404(client, client_b, server, key_b):
    """A job submitted with key A is invisible (404) to key B."""
    job = client.submit_async(MODEL, prompt="mine", **FAST)
    job_b = AsyncJob(request_id=job.request_id, status_url=job.status_url, response_url=job.response_url,
                     submit_response={}, _client=client_b)
    with pytest.raises(SegmindError) as ei:
        job_b.status()
    assert ei.value.status == 404
    done = job.wait(timeout=30, interval=0.2)
    with pytest.raises(SegmindError) as ei:
        job_b.result()
    assert ei.value.status == 404
    # key B's own jobs still work
    assert client_b.run_sync(MODEL, prompt="theirs", **FAST).status_code == 200
    assert done["status"] == "COMPLETED"


def test_results_expire_after_retention(client, raw):
    """After the 4 s retention, status, result and the output file are 404."""
    job = client.submit_async(MODEL, prompt="short-lived", **FAST)
    done = job.wait(timeout=30, interval=0.2)
    assert fetch(done["output"]).status_code == 200
    poll_until(lambda: raw.get(job.status_url).status_code, lambda c: c == 404, timeout=15, interval=0.5)
    r = raw.get(job.response_url)
    assert r.status_code == 404
    error_json(r)
    with pytest.raises(SegmindError) as ei:
        job.status()
    assert ei.value.status == 404
    # The file goes with the next retention sweep; the status already says 404
    # from the expiry time on, so allow the sweep a short, bounded moment.
    poll_until(lambda: fetch(done["output"]).status_code, lambda c: c == 404, timeout=scaled(3), interval=0.2)


def test_output_url_signature_is_checked(client):
    """The output URL works without a key, but not with a tampered signature."""
    done = run_fast(client, prompt="signed", **FAST)
    url = done["output"]
    assert fetch(url).status_code == 200
    assert "signature=" in url
    head, sig = url.rsplit("signature=", 1)
    bad = head + "signature=" + ("0" if sig[0] != "0" else "1") + sig[1:]
    assert fetch(bad).status_code in (403, 404)
    assert fetch(url.split("?", 1)[0]).status_code in (403, 404)


# ---------------------------------------------------------------- output


def test_same_seed_same_bytes_other_seed_other_bytes(client):
    """Determinism: same prompt+seed gives identical bytes; another seed differs."""
    a = client.run_sync(MODEL, prompt="a red fox", seed=7, **FAST).content
    b = client.run_sync(MODEL, prompt="a red fox", seed=7, **FAST).content
    c = client.run_sync(MODEL, prompt="a red fox", seed=8, **FAST).content
    assert a == b
    assert a != c


def test_response_modalities_text(client):
    """TEXT_AND_IMAGE returns a non-empty text; IMAGE returns no text key."""
    with_text = run_fast(client, prompt="hello", response_modalities="TEXT_AND_IMAGE", **FAST)
    assert isinstance(with_text.get("text"), str) and with_text["text"].strip()
    image_only = run_fast(client, prompt="hello", response_modalities="IMAGE", **FAST)
    assert "text" not in image_only
    assert image_only["status"] == "COMPLETED"


@pytest.mark.parametrize("ratio,res,size", [
    ("1:1", "512px", (512, 512)),
    ("9:16", "1K", (768, 1376)),
    ("21:9", "512px", (792, 336)),
    ("4:1", "512px", (1024, 256)),
    ("3:2", "512px", (632, 424)),
])
def test_documented_sizes(client, ratio, res, size):
    """aspect_ratio x output_resolution give exactly the documented pixels."""
    resp = client.run_sync(MODEL, prompt="size check", aspect_ratio=ratio, output_resolution=res,
                           response_modalities="IMAGE")
    assert image_size(resp.content) == size


def test_data_url_reference_with_auto_ratio(client):
    """A data: URL reference with aspect_ratio auto completes, using the
    reference's ratio (a 9:16 image gives 9:16 output)."""
    ref = data_url(make_png(90, 160))
    done = run_fast(client, prompt="restyle this", image_urls=[ref], aspect_ratio="auto", **FAST)
    assert done["status"] == "COMPLETED"
    img = fetch(done["output"]).content
    assert image_size(img) == (done["width"], done["height"])
    assert (done["width"], done["height"]) == (384, 688)


def test_corrupt_reference_image_fails_cleanly(client, server):
    """A well-formed data: URL whose PNG is corrupt fails the job
    (InferenceFailed), and the server keeps serving."""
    job = client.submit_async(MODEL, prompt="restyle this", image_urls=[data_url(corrupt_png())], **FAST)
    with pytest.raises(InferenceFailed) as ei:
        job.wait(timeout=30, interval=0.2)
    assert ei.value.detail
    assert httpx.get(f"{server.base}/healthz", timeout=5).json() == {"status": "ok"}
    assert client.run_sync(MODEL, prompt="still alive", **FAST).status_code == 200


def test_body_too_large_is_413(client, server):
    """A 3 MB body over the 2 MB limit: SegmindError 413 with a JSON error."""
    big = "x" * 3_000_000
    with pytest.raises(SegmindError) as ei:
        client.run_sync(MODEL, prompt="big", image_urls=["data:image/png;base64," + big])
    assert ei.value.status == 413
    assert ei.value.detail
    r = httpx.post(f"{server.base}/v2/{MODEL}", json={"prompt": big},
                   headers={"x-api-key": server.key}, timeout=30)
    assert r.status_code == 413
    error_json(r)


def test_v1_deadline_is_504_and_job_survives(slow_server):
    """v1 past --sync-timeout: SegmindError 504; the 504 JSON names a
    request_id whose v2 result later becomes COMPLETED."""
    c = segmind.SegmindClient(api_key=slow_server.key, base_url=f"{slow_server.base}/v1")
    t0 = time.monotonic()
    with pytest.raises(SegmindError) as ei:
        c.run_sync(MODEL, prompt="slow", **FAST)
    assert ei.value.status == 504
    assert time.monotonic() - t0 < 2.9
    headers = {"x-api-key": slow_server.key}
    r = httpx.post(f"{slow_server.base}/v1/{MODEL}", json={"prompt": "slow too", **FAST}, headers=headers,
                   timeout=30)
    assert r.status_code == 504
    error_json(r)
    rid = r.json()["request_id"]
    assert rid
    final = poll_until(lambda: httpx.get(f"{slow_server.base}/v2/requests/{rid}", headers=headers, timeout=10),
                       lambda resp: resp.status_code != 202, timeout=15, interval=0.25)
    assert final.status_code == 200, final.text
    assert final.json()["status"] == "COMPLETED"
    assert fetch(final.json()["output"]).status_code == 200
    c._client.close()


def test_twenty_concurrent_submissions(client):
    """20 submit_async calls from threads: all COMPLETED, all ids distinct."""
    def one(i: int) -> dict:
        job = client.submit_async(MODEL, prompt=f"concurrent {i}", seed=i, **FAST)
        return job.wait(timeout=45, interval=0.2)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    assert all(r["status"] == "COMPLETED" for r in results)
    assert len({r["request_id"] for r in results}) == 20
    assert len({r["output"] for r in results}) == 20


def test_insufficient_credits_is_406(server):
    """A metered key that cannot pay gets SegmindError 406 with the server's error text."""
    poor = segmind.SegmindClient(api_key=server.create_key("poor", credits=10), base_url=f"{server.base}/v1")
    with pytest.raises(SegmindError) as caught:
        poor.run_sync("nano-banana-2", prompt="x", output_resolution="512px")
    assert caught.value.status == 406
    assert "Insufficient credits" in caught.value.detail
    with pytest.raises(SegmindError) as caught:
        poor.submit_async("nano-banana-2", prompt="x")
    assert caught.value.status == 406


def test_metered_key_sees_cost_and_balance(server):
    """run_sync's headers and run()'s metrics carry the cost and the remaining credits."""
    rich = segmind.SegmindClient(api_key=server.create_key("rich", credits=1000), base_url=f"{server.base}/v1")
    response = rich.run_sync("nano-banana-2", prompt="x", output_resolution="512px")
    assert response.headers["x-cost"] == "45"
    assert response.headers["x-remaining-credits"] == "955"
    result = rich.run("nano-banana-2", prompt="y", output_resolution="1K")
    assert result["metrics"]["cost"] == 67
    assert result["metrics"]["remaining_credits"] == 888


def test_rate_limited_is_429(server):
    """Past a key's burst the SDK raises SegmindError 429 with the server's error text."""
    limited = segmind.SegmindClient(api_key=server.create_key("limited", rpm=6, burst=1), base_url=f"{server.base}/v1")
    limited.submit_async("nano-banana-2", prompt="x", output_resolution="512px")
    with pytest.raises(SegmindError) as caught:
        limited.submit_async("nano-banana-2", prompt="x", output_resolution="512px")
    assert caught.value.status == 429
    assert "Rate limited" in caught.value.detail


def test_forbidden_model_is_403(server):
    """A key restricted to other models gets SegmindError 403 with the server's error text."""
    narrow = segmind.SegmindClient(api_key=server.create_key("narrow", models="nano-banana-pro"),
                                   base_url=f"{server.base}/v1")
    with pytest.raises(SegmindError) as caught:
        narrow.run_sync("nano-banana-2", prompt="x")
    assert caught.value.status == 403
    assert "may not use model" in caught.value.detail
