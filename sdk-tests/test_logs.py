"""Structured logs from the real binary: with --log-format json every line on stderr is
one JSON object; each request has an access line by route template, and the client's
x-request-id or traceparent follows the request into its job's lines. No secret, prompt
or link signature is ever logged."""

from __future__ import annotations

import json
import re
import subprocess

import httpx

from fakegemini import wait_until
from nbserver import BIN, NanoBananaServer, clean_env, scaled

MODEL = "nano-banana-2"
PROMPT = "a gold leaf sign that says 'PROMPT-MARKER-5521'"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def logged(srv: NanoBananaServer) -> list[dict]:
    """Every line the server wrote on stderr, each parsed as one JSON object."""
    text = srv.stderr_path.read_text("utf-8")
    assert text.endswith("\n")
    lines = []
    for raw in text.splitlines():
        line = json.loads(raw)
        assert isinstance(line, dict), raw
        assert list(line)[:4] == ["time", "level", "message", "label"], raw
        assert TIME.match(line["time"]), raw
        assert line["level"] in ("trace", "debug", "info", "notice", "warning", "error", "critical"), raw
        lines.append(line)
    return lines


def test_json_logs_follow_each_request_into_its_job(tmp_path):
    srv = NanoBananaServer("jsonlogs", tmp_path / "data", ["--log-format", "json", "--workers", "1"],
                           separate_stderr=True)
    srv.start(timeout=scaled(60))
    try:
        key = srv.key
        auth = {"x-api-key": key}
        submit = httpx.post(f"{srv.base}/v2/{MODEL}", headers={**auth, "x-request-id": "py-req-1"},
                            json={"prompt": PROMPT, "output_resolution": "512px"}, timeout=scaled(30))
        assert submit.status_code == 200
        job_id = submit.json()["request_id"]

        def done() -> bool:
            r = httpx.get(f"{srv.base}/v2/requests/{job_id}/status",
                          headers={**auth, "traceparent": TRACEPARENT}, timeout=scaled(10))
            return r.json()["status"] == "COMPLETED"

        assert wait_until(done, scaled(30))
        output = httpx.get(f"{srv.base}/v2/requests/{job_id}", headers=auth, timeout=scaled(10)).json()["output"]
        assert "signature=" in output
        assert httpx.get(output, timeout=scaled(10)).status_code == 200

        sync = httpx.post(f"{srv.base}/v1/{MODEL}", headers=auth,
                          json={"prompt": PROMPT, "output_resolution": "512px"}, timeout=scaled(60))
        assert sync.status_code == 200
        sync_job = sync.headers["x-request-id"]  # the job's id, as the segmind protocol has it

        assert httpx.get(f"{srv.base}/v2/requests/{job_id}", headers={"x-api-key": "nb_wrong"}).status_code == 401
        assert httpx.post(f"{srv.base}/v2/{MODEL}", headers=auth, json={"prompt": ""}).status_code == 400
        too_long = "x" * 200
        assert httpx.get(f"{srv.base}/healthz", headers={"x-request-id": too_long}).status_code == 200
    finally:
        srv.stop()

    lines = logged(srv)
    text = srv.stderr_path.read_text("utf-8")
    assert key not in text and "PROMPT-MARKER" not in text and "signature=" not in text and too_long not in text

    access = [line for line in lines if line["message"] == "HTTP request"]
    submitted = next(line for line in access if line["method"] == "POST" and line["route"] == "/v2/{model}")
    assert submitted["status"] == 200 and submitted["request_id"] == "py-req-1"
    assert submitted["key_id"].startswith("key_") and submitted["job_id"] == job_id
    assert isinstance(submitted["duration_ms"], (int, float)) and submitted["bytes_out"] > 0

    polls = [line for line in access if line["route"] == "/v2/requests/{id}/status"]
    assert polls and all(line["request_id"] == TRACE_ID and line["status"] == 200 for line in polls)
    routes = {(line["method"], line["route"], line["status"]) for line in access}
    assert {("GET", "/v2/files/{name}", 200), ("GET", "/v2/requests/{id}", 401), ("POST", "/v2/{model}", 400),
            ("POST", "/v1/{model}", 200)} <= routes
    assert not any(job_id in line["route"] for line in access)
    health = [line for line in access if line["route"] == "/healthz"]
    assert re.fullmatch(r"[0-9a-f]{32}", health[-1]["request_id"])

    events = [(line["job_event"], line["request_id"]) for line in lines if line.get("job_id") == job_id
              and "job_event" in line]
    # A worker may take the job before the submit logs it queued; it completes last.
    assert sorted(events) == [("completed", "py-req-1"), ("queued", "py-req-1"), ("started", "py-req-1")]
    assert events[-1][0] == "completed"
    sync_lines = [line for line in lines if line.get("job_id") == sync_job and "job_event" in line]
    sync_access = next(line for line in access if line["route"] == "/v1/{model}")
    assert sorted(line["job_event"] for line in sync_lines) == ["completed", "queued", "started"]
    assert {line["request_id"] for line in sync_lines} == {sync_access["request_id"]}
    assert all(line["engine"] == "preview" and line["model"] == MODEL for line in sync_lines)


def test_an_unknown_log_format_is_refused_at_start_naming_the_flag(tmp_path):
    for args, env, named in ((["--log-format", "xml"], {}, "--log-format"),
                             ([], {"NANO_BANANA_LOG_FORMAT": "logfmt"}, "NANO_BANANA_LOG_FORMAT")):
        out = subprocess.run([BIN, "serve", "--port", "0", "--data-dir", str(tmp_path / "data"), *args],
                             capture_output=True, text=True, timeout=scaled(30), env=clean_env(env))
        assert out.returncode == 2, out.stdout + out.stderr
        assert named in out.stderr and "expected json or text" in out.stderr
