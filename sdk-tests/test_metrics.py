"""The Prometheus metrics as a scrape job sees them, parsed with the official
`prometheus_client` parser: on the API port for an admin key, and without a key on
`--metrics-port`. The server runs the Gemini engine against the fake, which answers one
429 (retried) and one 400 (the job FAILS), so the upstream, failure and refund series
move too."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fakegemini import FakeGemini
from nbserver import NanoBananaServer, free_port, scaled

MODEL = "nano-banana-2"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def samples(text: str) -> dict[str, list]:
    """Every sample of the exposition by its name (`…_total`, `…_bucket`, `…_count`), as
    the official parser reads it; a text it cannot parse fails the test here."""
    by_name: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            by_name.setdefault(sample.name, []).append(sample)
    return by_name


def total(found: dict[str, list], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """A Gemini-engine server on the fake, with a metrics port, after three v1 jobs paid
    by a metered key: one through a 429, one refused upstream (400), one plain."""
    with FakeGemini() as fake:
        metrics_port = free_port()
        srv = NanoBananaServer("metrics", tmp_path_factory.mktemp("metrics") / "data",
                               ["--engine", "gemini", "--workers", "2", "--metrics-port", str(metrics_port)],
                               env={"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": fake.base})
        srv.start(timeout=scaled(60))
        try:
            key = srv.create_key("metered", credits=1000)
            admin = srv.create_key("ops", admin=True)

            def run(prompt: str) -> httpx.Response:
                return httpx.post(f"{srv.base}/v1/{MODEL}", headers={"x-api-key": key},
                                  json={"prompt": prompt, "output_resolution": "512px"}, timeout=scaled(60))

            fake.errors = [429]
            assert run("through a 429").status_code == 200
            fake.errors = [400]
            assert run("refused upstream").status_code == 422
            assert run("plain").status_code == 200
            status = httpx.get(f"{srv.base}/v2/requests/not-a-job/status", headers={"x-api-key": key},
                               timeout=scaled(10))
            assert status.status_code == 404
            yield srv, admin, key, metrics_port
        finally:
            srv.stop()


def check_families(found: dict[str, list]) -> None:
    model = {"model": MODEL, "engine": "gemini"}
    assert total(found, "nano_banana_jobs_submitted_total", **model) == 3
    assert total(found, "nano_banana_jobs_completed_total", **model) == 2
    assert total(found, "nano_banana_jobs_failed_total", reason="invalid_request", **model) == 1
    assert total(found, "nano_banana_jobs_failed_total", reason="upstream_unavailable", **model) == 0
    assert "nano_banana_jobs_retried_total" in found
    assert total(found, "nano_banana_job_queue_seconds_count", **model) == 3
    assert total(found, "nano_banana_job_inference_seconds_count", **model) == 2
    assert total(found, "nano_banana_job_inference_seconds_sum", **model) > 0
    # 512px costs 45: three charged, the failed one's refunded.
    assert total(found, "nano_banana_credits_charged_total", model=MODEL) == 135
    assert total(found, "nano_banana_credits_refunded_total", model=MODEL) == 45
    for gauge in ("nano_banana_queue_depth", "nano_banana_jobs_processing", "nano_banana_jobs_in_flight"):
        assert gauge in found, gauge

    upstream = {"engine": "gemini", "model": "gemini-3.1-flash-image-preview"}
    assert total(found, "nano_banana_upstream_requests_total", status="429", **upstream) == 1
    assert total(found, "nano_banana_upstream_requests_total", status="400", **upstream) == 1
    assert total(found, "nano_banana_upstream_requests_total", status="200", **upstream) == 2
    assert total(found, "nano_banana_upstream_request_duration_seconds_count", **upstream) == 4

    runs = {"route": "/v1/{model}", "method": "POST"}
    assert total(found, "nano_banana_http_requests_total", status="200", **runs) == 2
    assert total(found, "nano_banana_http_requests_total", status="422", **runs) == 1
    assert total(found, "nano_banana_http_requests_total", route="/v2/requests/{id}/status", status="404") == 1
    assert total(found, "nano_banana_http_request_duration_seconds_count", **runs) == 3
    assert not any("not-a-job" in str(s.labels) for series in found.values() for s in series)
    assert total(found, "nano_banana_store_operation_duration_seconds_count", store="sqlite",
                 operation="enqueue") == 3
    assert total(found, "nano_banana_store_operation_duration_seconds_count", store="sqlite",
                 operation="claim") >= 3


def test_metrics_for_an_admin_key_parse_and_move(observed):
    srv, admin, key, _ = observed
    assert httpx.get(f"{srv.base}/metrics", timeout=scaled(10)).status_code == 401
    refused = httpx.get(f"{srv.base}/metrics", headers={"x-api-key": key}, timeout=scaled(10))
    assert refused.status_code == 403 and refused.json()["error"] == "This route needs an admin key."
    r = httpx.get(f"{srv.base}/metrics", headers={"x-api-key": admin}, timeout=scaled(10))
    assert r.status_code == 200
    assert r.headers["content-type"] == CONTENT_TYPE
    check_families(samples(r.text))


def test_the_metrics_port_serves_them_without_a_key(observed):
    srv, _, _, metrics_port = observed
    r = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=scaled(10))
    assert r.status_code == 200
    assert r.headers["content-type"] == CONTENT_TYPE
    check_families(samples(r.text))
    assert httpx.get(f"http://127.0.0.1:{metrics_port}/v2/requests/x/status", timeout=scaled(10)).status_code == 404
