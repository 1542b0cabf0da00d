"""Signed webhooks with a durable outbox, end to end: a real receiver on loopback,
every delivery checked with the `standardwebhooks` package, retries that survive a
SIGKILL, two PostgreSQL nodes that never deliver the same attempt twice, and the
private-address guard at submit and at delivery."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest
import segmind
from standardwebhooks.webhooks import Webhook

from nbserver import BIN, NanoBananaServer, scaled
from pgcluster import create_key, worker_support
from webhookreceiver import Receiver

MODEL = "nano-banana-2"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def webhook_args(receiver: Receiver, schedule: str = "1s,1s,1s") -> list[str]:
    return ["--allow-webhook-host", f"127.0.0.1:{receiver.port}", "--webhook-retry-schedule", schedule,
            "--webhook-timeout", "1"]


def start(tmp_path, name: str, args: list[str]) -> NanoBananaServer:
    (tmp_path / name).mkdir(parents=True, exist_ok=True)
    srv = NanoBananaServer(name, tmp_path / name / "data", ["--workers", "2", *args])
    return srv.start()


def submit(srv: NanoBananaServer, key: str, query: str, prompt: str = "a 'hook' sign") -> httpx.Response:
    return httpx.post(f"{srv.base}/v2/{MODEL}?{query}", headers={"x-api-key": key},
                      json={"prompt": prompt, "output_resolution": "512px"}, timeout=30)


def deliveries(srv: NanoBananaServer, key: str, request_id: str) -> list[dict]:
    r = httpx.get(f"{srv.base}/v2/requests/{request_id}/webhooks", headers={"x-api-key": key}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["request_id"] == request_id
    return r.json()["events"]


def wait_for_events(srv, key, request_id, predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        events = deliveries(srv, key, request_id)
        if predicate(events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {json.dumps(events, indent=1)}")
        time.sleep(0.1)


def secret(srv: NanoBananaServer, key: str) -> str:
    r = httpx.get(f"{srv.base}/v2/webhooks/secret", headers={"x-api-key": key}, timeout=30)
    assert r.status_code == 200, r.text
    value = r.json()["key"]
    assert value.startswith("whsec_")
    return value


def verified(delivery, whsec: str) -> dict:
    """The delivery's body as the standardwebhooks verifier accepts it (it raises otherwise)."""
    return Webhook(whsec).verify(delivery.body, delivery.headers)


def test_signed_deliveries_retries_timeouts_and_gone(tmp_path, receiver):
    srv = start(tmp_path, "hooks", webhook_args(receiver) + ["--block-word", "forbidden"])
    try:
        key = srv.key
        whsec = secret(srv, key)
        assert secret(srv, key) == whsec

        # Every event of one request, each signed; `completed` carries the result body.
        ok = submit(srv, key, f"webhook={receiver.url('/ok')}&webhook_events=processing,completed,failed")
        assert ok.status_code == 200, ok.text
        rid = ok.json()["request_id"]
        got = receiver.wait(lambda: len(receiver.to("/ok")) >= 2 and receiver.to("/ok"), scaled(30), "2 events")
        bodies = [verified(d, whsec) for d in got]
        assert [b["type"] for b in bodies] == ["request.processing", "request.completed"]
        assert bodies[0]["data"]["status"] == "PROCESSING" and bodies[0]["data"]["request_id"] == rid
        result = httpx.get(f"{srv.base}/v2/requests/{rid}", headers={"x-api-key": key}, timeout=30).json()
        done = bodies[1]["data"]
        assert done["status"] == "COMPLETED" and done["request_id"] == rid
        assert done["output"] == result["output"]
        assert httpx.get(done["output"], timeout=30).status_code == 200
        assert bodies[1]["timestamp"].endswith("Z")
        assert all(d.headers["content-type"] == "application/json" for d in got)
        assert len({d.id for d in got}) == 2 and all(d.id.startswith("msg_") for d in got)
        events = wait_for_events(srv, key, rid, lambda e: all(x["state"] == "DELIVERED" for x in e), scaled(10),
                                 "both DELIVERED")
        assert [e["type"] for e in events] == ["request.processing", "request.completed"]
        assert all(len(e["attempts"]) == 1 and e["attempts"][0]["status_code"] == 200 for e in events)

        # Failing twice, then delivered: three attempts, one id, identical bodies.
        failing = submit(srv, key, f"webhook={receiver.url('/fail/2')}").json()["request_id"]
        events = wait_for_events(srv, key, failing, lambda e: e and e[0]["state"] == "DELIVERED", scaled(30),
                                 "delivered after 2 failures")
        assert [a["status_code"] for a in events[0]["attempts"]] == [500, 500, 200]
        tries = receiver.to("/fail/2")
        assert len(tries) == 3 and len({d.id for d in tries}) == 1 and len({d.body for d in tries}) == 1
        for d in tries:
            verified(d, whsec)

        # 410 stops at once; a slow receiver is a timeout, then delivered.
        gone = submit(srv, key, f"webhook={receiver.url('/gone')}").json()["request_id"]
        slow = submit(srv, key, f"webhook={receiver.url('/slow/3')}").json()["request_id"]
        events = wait_for_events(srv, key, gone, lambda e: e and e[0]["state"] == "GONE", scaled(30), "GONE")
        assert [a["status_code"] for a in events[0]["attempts"]] == [410]
        events = wait_for_events(srv, key, slow, lambda e: e and e[0]["state"] == "DELIVERED", scaled(30),
                                 "slow then delivered")
        first, last = events[0]["attempts"][0], events[0]["attempts"][-1]
        assert first["status_code"] is None and "timed out" in first["error"]
        assert last["status_code"] == 200
        time.sleep(2.5)
        assert len(receiver.to("/gone")) == 1

        # A failed request is a `failed` event with the status body.
        blocked = submit(srv, key, f"webhook={receiver.url('/ok')}&webhook_events=failed",
                         prompt="something forbidden").json()["request_id"]
        got = receiver.wait(lambda: [d for d in receiver.to("/ok") if verified(d, whsec)["data"]["request_id"]
                                     == blocked], scaled(30), "the failed event")
        body = verified(got[0], whsec)
        assert body["type"] == "request.failed" and body["data"]["status"] == "FAILED" and body["data"]["error"]

        # Redelivery: the final event again, same id, a new attempt.
        completed_id = [d.id for d in receiver.to("/ok") if verified(d, whsec)["type"] == "request.completed"][0]
        r = httpx.post(f"{srv.base}/v2/requests/{rid}/webhooks/redeliver", headers={"x-api-key": key}, timeout=30)
        assert r.status_code == 202, r.text
        assert [e["id"] for e in r.json()["events"]] == [completed_id]
        receiver.wait(lambda: len(receiver.of(completed_id)) == 2, scaled(10), "the redelivery")
        again = receiver.of(completed_id)
        assert again[0].body == again[1].body
        events = wait_for_events(srv, key, rid, lambda e: len(e[-1]["attempts"]) == 2, scaled(10), "2 attempts")

        # The sync route pushes its result too.
        r = httpx.post(f"{srv.base}/v1/{MODEL}?webhook={receiver.url('/ok')}", headers={"x-api-key": key},
                       json={"prompt": "sync", "output_resolution": "512px"}, timeout=60)
        assert r.status_code == 200
        sync_id = r.headers["x-request-id"]
        receiver.wait(lambda: [d for d in receiver.to("/ok") if verified(d, whsec)["data"]["request_id"] == sync_id],
                      scaled(30), "the v1 request's event")

        # Every delivery of the whole test verifies.
        for d in receiver.deliveries:
            verified(d, whsec)
    finally:
        srv.stop()


def test_segmind_registry_sets_the_keys_default_webhook(tmp_path, receiver):
    srv = start(tmp_path, "registry", webhook_args(receiver))
    try:
        client = segmind.SegmindClient(api_key=srv.key, base_url=f"{srv.base}/v1")
        hooks = client.webhooks
        hooks.base_url = f"{srv.base}/webhook"
        added = hooks.add(receiver.url("/ok"), ["completed"])
        hook_id = added["webhook_id"]
        assert added["active"] is True and added["event"]["types"] == ["completed"]
        assert [h["webhook_id"] for h in hooks.get()["webhooks"]] == [hook_id]
        updated = hooks.update(hook_id, receiver.url("/ok"), ["processing", "completed"])
        assert updated["event"]["types"] == ["processing", "completed"]

        rid = submit(srv, srv.key, "").json()["request_id"]
        whsec = secret(srv, srv.key)
        got = receiver.wait(lambda: len(receiver.to("/ok")) >= 2 and receiver.to("/ok"), scaled(30), "2 events")
        assert [verified(d, whsec)["type"] for d in got] == ["request.processing", "request.completed"]
        assert all(verified(d, whsec)["data"]["request_id"] == rid for d in got)
        logs = hooks.logs(hook_id)
        assert logs["webhook_id"] == hook_id and {log["request_id"] for log in logs["logs"]} == {rid}

        assert hooks.delete(hook_id)["active"] is False
        quiet = submit(srv, srv.key, "").json()["request_id"]
        assert deliveries(srv, srv.key, quiet) == []
    finally:
        srv.stop()


def test_a_retry_survives_sigkill_with_the_same_id_and_one_success(tmp_path, receiver):
    srv = start(tmp_path, "durable", webhook_args(receiver, schedule="4s"))
    key = srv.key
    whsec = secret(srv, key)
    rid = submit(srv, key, f"webhook={receiver.url('/fail/1')}").json()["request_id"]
    events = wait_for_events(srv, key, rid, lambda e: e and len(e[0]["attempts"]) == 1, scaled(30),
                             "the first, failed attempt")
    assert events[0]["state"] == "PENDING" and events[0]["next_attempt_at"]
    event_id = events[0]["id"]
    srv.kill()
    srv.start()
    receiver.wait(lambda: any(d.status == 200 for d in receiver.of(event_id)), scaled(30),
                  "the retry after the restart")
    try:
        time.sleep(2)
        tries = receiver.of(event_id)
        assert [d.status for d in tries] == [500, 200]
        assert tries[0].body == tries[1].body
        for d in tries:
            verified(d, whsec)
        events = wait_for_events(srv, key, rid, lambda e: e[0]["state"] == "DELIVERED", scaled(10), "DELIVERED")
        assert [a["status_code"] for a in events[0]["attempts"]] == [500, 200]
    finally:
        srv.stop()


def test_private_addresses_are_refused_at_submit_and_at_delivery(tmp_path, receiver):
    srv = start(tmp_path, "guard", webhook_args(receiver))
    try:
        key = srv.key
        for url in ["http://127.0.0.1:9/x", "http://[::1]:9/x", "http://10.1.2.3/x", "http://0x7f000001/x",
                    "http://localhost:9/x", "file:///etc/passwd", f"http://127.0.0.1:{receiver.port + 1}/x"]:
            r = submit(srv, key, "webhook=" + url)
            assert r.status_code == 400, (url, r.text)
            assert "'webhook'" in r.json()["error"]
        # A key's default webhook is checked when it is delivered: the attempt fails,
        # nothing is sent.
        out = subprocess.run([BIN, "keys", "create", "--name", "private", "--data-dir", str(srv.data_dir),
                              "--webhook", "http://localhost:9/private"], capture_output=True, text=True,
                             timeout=30, env=srv.env)
        assert out.returncode == 0, out.stderr
        private_key = out.stdout.strip().splitlines()[-1]
        rid = submit(srv, private_key, "").json()["request_id"]
        events = wait_for_events(srv, private_key, rid, lambda e: e and e[0]["attempts"], scaled(30), "an attempt")
        attempt = events[0]["attempts"][0]
        assert attempt["status_code"] is None and "private or reserved" in attempt["error"]
    finally:
        srv.stop()


@pytest.mark.skipif(worker_support() is not None, reason=str(worker_support()))
def test_two_postgres_nodes_deliver_each_attempt_once(cluster, receiver):
    key = create_key(cluster.pg.url, "hooks")
    nodes = [cluster.api(f"api{i}", ["--workers", "2", *webhook_args(receiver)]) for i in range(2)]
    whsec = secret(nodes[0], key)
    assert secret(nodes[1], key) == whsec
    ids = [submit(nodes[i % 2], key, f"webhook={receiver.url('/fail/1')}").json()["request_id"] for i in range(20)]
    for rid in ids:
        wait_for_events(nodes[0], key, rid, lambda e: e and e[0]["state"] == "DELIVERED", scaled(60), "DELIVERED")
    time.sleep(2)
    by_id: dict[str, list[int]] = {}
    for d in receiver.to("/fail/1"):
        by_id.setdefault(d.id, []).append(d.status)
        verified(d, whsec)
    assert len(by_id) == 20
    assert all(statuses == [500, 200] for statuses in by_id.values()), by_id


def test_the_cli_submits_with_a_webhook_and_shows_its_deliveries(tmp_path, receiver):
    srv = start(tmp_path, "cli", webhook_args(receiver))
    try:
        def cli(*args: str) -> str:
            out = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120,
                                 env={**srv.env, "SEGMIND_API_KEY": key, "NANO_BANANA_URL": f"{srv.base}/v1"})
            assert out.returncode == 0, out.stdout + out.stderr
            return out.stdout

        created = subprocess.run([BIN, "keys", "create", "--name", "cli-hooks", "--data-dir", str(srv.data_dir)],
                                 capture_output=True, text=True, timeout=30, env=srv.env, check=True)
        key = created.stdout.strip().splitlines()[-1]
        whsec = cli("keys", "webhook-secret", "cli-hooks", "--data-dir", str(srv.data_dir)).strip()
        assert whsec == secret(srv, key)
        rid = cli("submit", "a 'cli' sign", "--resolution", "512px", "--webhook", receiver.url("/ok"),
                  "--webhook-events", "completed").strip()
        got = receiver.wait(lambda: receiver.to("/ok"), scaled(30), "the CLI request's event")
        assert verified(got[0], whsec)["data"]["request_id"] == rid
        wait_for_events(srv, key, rid, lambda e: e and e[0]["state"] == "DELIVERED", scaled(10), "DELIVERED")
        shown = json.loads(cli("webhooks", rid))
        assert shown["request_id"] == rid and shown["events"][0]["id"] == got[0].id
        assert shown["events"][0]["attempts"][0]["status_code"] == 200
        rotated = cli("keys", "webhook-secret", "cli-hooks", "--rotate", "--data-dir", str(srv.data_dir)).strip()
        assert rotated != whsec and rotated == secret(srv, key)
    finally:
        srv.stop()
