"""History and uploads through the unmodified `segmind` SDK (PyPI 1.3.0), pointed at the
server with its own knobs: the module `segmind.generations`'s `REQUEST_HISTORY_URL` for
`generations.history()` and `generations.get()`, `Files.STORAGE_BASE_URL` for
`files.upload()`."""

from __future__ import annotations

import importlib

import httpx
import pytest
import segmind
from segmind.exceptions import SegmindError
from segmind.files import Files

from imgutil import PNG_MAGIC, image_size, make_png
from nbserver import NanoBananaServer

MODEL = "nano-banana-2"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """A server of this module's own, whose retention outlasts its tests (the shared one
    keeps results 4 s), with a small upload quota."""
    root = tmp_path_factory.mktemp("history")
    server = NanoBananaServer("history", root / "data",
                              ["--retention", "600", "--workers", "2", "--block-word", "forbidden",
                               "--upload-quota", "300000"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sdk(srv, monkeypatch):
    """The SDK with its history and storage URLs pointed at the server."""
    # The module itself: `segmind.generations` is the package's shortcut object of that name.
    monkeypatch.setattr(importlib.import_module("segmind.generations"), "REQUEST_HISTORY_URL",
                        f"{srv.base}/inference-request/request-history")
    monkeypatch.setattr(Files, "STORAGE_BASE_URL", srv.base)
    client = segmind.SegmindClient(api_key=srv.key, base_url=f"{srv.base}/v1")
    yield client
    client._client.close()


def run(client, **params) -> dict:
    return client.submit_async(MODEL, output_resolution="512px", **params).wait(timeout=60, interval=0.2)


def test_history_and_get_list_the_keys_requests(sdk, srv):
    """generations.history(): newest first, failures included, the SDK's row fields;
    generations.get(): one of them; the parameters the SDK sends filter and page."""
    done = run(sdk, prompt="a 'history' sign", seed=11)
    with pytest.raises(segmind.v2.InferenceFailed):
        run(sdk, prompt="forbidden words")
    page = sdk.generations.history(per_page=100)
    rows = page["data"]
    assert rows[1]["request_id"] == done["request_id"]
    failed, completed = rows[0], rows[1]
    assert failed["model_status"] == "FAILED" and "Content blocked" in failed["error"]
    assert failed["generation_url"] is None and failed["credits_deduction"] == 0
    assert completed["model_name"] == MODEL and completed["model_status"] == "COMPLETED"
    assert completed["request_body"]["prompt"] == "a 'history' sign" and completed["request_body"]["seed"] == 11
    assert completed["latency_ms"] >= 0 and completed["created_at"] and completed["error"] is None
    image = httpx.get(completed["generation_url"], timeout=30)
    assert image.status_code == 200 and image_size(image.content) == (512, 512)
    assert page["page"] == 1 and page["per_page"] == 100 and page["total"] >= 2

    assert [r["request_id"] for r in sdk.generations.history(status="FAILED", per_page=100)["data"]] \
        == [failed["request_id"]]
    assert sdk.generations.history(page=2, per_page=1)["data"][0]["request_id"] == completed["request_id"]
    oldest = sdk.generations.history(sort_order="asc", sort_by="model_created", model_name="banana",
                                     per_page=100)["data"]
    assert [r["request_id"] for r in oldest][-2:] == [completed["request_id"], failed["request_id"]]
    assert sdk.generations.history(from_date="2000-01-01", to_date="2000-01-31")["data"] == []

    assert sdk.generations.get(completed["request_id"]) == completed
    with pytest.raises(SegmindError) as missing:
        sdk.generations.get("no-such-request")
    assert missing.value.status == 404 and missing.value.detail
    with pytest.raises(SegmindError) as bad:
        sdk.generations.history(per_page=500)
    assert bad.value.status == 400 and "per_page" in bad.value.detail


def test_history_is_per_key_and_admins_may_ask_for_another(sdk, srv):
    """Another key sees none of these requests; an admin key sees them with `key=` (the
    first-run key is named `default`); any other key passing `key=` gets 403."""
    mine = run(sdk, prompt="mine")["request_id"]
    other = segmind.SegmindClient(api_key=srv.create_key("history-other"), base_url=f"{srv.base}/v1")
    admin = {"x-api-key": srv.create_key("history-admin", admin=True)}
    try:
        assert mine not in [r["request_id"] for r in other.generations.history(per_page=100)["data"]]
        with pytest.raises(SegmindError) as hidden:
            other.generations.get(mine)
        assert hidden.value.status == 404

        seen = httpx.get(f"{srv.base}/inference-request/request-history",
                         params={"per_page": 100, "key": "default"}, headers=admin, timeout=30)
        assert seen.status_code == 200 and mine in [r["request_id"] for r in seen.json()["data"]]
        detail = httpx.get(f"{srv.base}/v2/requests/{mine}/detail", params={"key": "default"}, headers=admin,
                           timeout=30)
        assert detail.status_code == 200 and detail.json()["request_id"] == mine
        assert httpx.get(f"{srv.base}/v2/requests/{mine}/detail", headers=admin, timeout=30).status_code == 404

        with pytest.raises(SegmindError) as refused:
            other._request("GET", f"{srv.base}/v2/requests", params={"key": "default"})
        assert refused.value.status == 403 and "admin" in refused.value.detail
    finally:
        other._client.close()


def test_upload_then_submit_with_the_link(sdk, srv, tmp_path):
    """files.upload(): signed links that serve the files without a key; one passed in
    image_urls is read from the server's own store (its host is loopback, which a fetch
    would refuse) and shapes the picture."""
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    red.write_bytes(make_png(64, 32, (220, 20, 20)))
    blue.write_bytes(make_png(32, 64, (20, 20, 220)))
    uploaded = sdk.files.upload([str(red), str(blue)])
    assert uploaded["message"] and len(uploaded["file_urls"]) == 2
    link = uploaded["file_urls"][0]
    assert link.startswith(srv.base + "/v2/files/upload-")
    served = httpx.get(link, timeout=30)
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content == red.read_bytes() and served.content.startswith(PNG_MAGIC)

    # With `auto`, the preview engine takes the shape of the first reference (64×32: wide).
    with_ref = run(sdk, prompt="a 'ref' sign", image_urls=[link], aspect_ratio="auto")
    plain = run(sdk, prompt="a 'ref' sign", aspect_ratio="auto")
    assert with_ref["status"] == "COMPLETED"
    assert (with_ref["width"], with_ref["height"]) != (plain["width"], plain["height"])
    assert with_ref["width"] > with_ref["height"]
    row = sdk.generations.get(with_ref["request_id"])
    assert row["request_body"]["image_urls"] == [link]

    # A tampered link is not the server's own: the loopback host is then refused at submit.
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    with pytest.raises(SegmindError) as refused:
        sdk.submit_async(MODEL, prompt="x", image_urls=[tampered])
    assert refused.value.status == 400 and "image_urls[0]" in refused.value.detail


def test_upload_limits_and_quota(sdk, srv, tmp_path):
    """Uploads are checked as reference images are; past the key's quota, a 413."""
    text = tmp_path / "notes.png"
    text.write_bytes(b"not an image at all")
    with pytest.raises(SegmindError) as bad:
        sdk.files.upload(str(text))
    assert bad.value.status == 400 and "data_urls[0]" in bad.value.detail

    quota_key = srv.create_key("quota")
    big = tmp_path / "big.png"
    big.write_bytes(make_png(300, 300, (10, 200, 10)) + b"\0" * 120_000)
    client = segmind.SegmindClient(api_key=quota_key, base_url=f"{srv.base}/v1")
    try:
        client.files.upload(str(big))
        client.files.upload(str(big))
        with pytest.raises(SegmindError) as full:
            client.files.upload(str(big))
        assert full.value.status == 413 and "quota" in full.value.detail
    finally:
        client._client.close()
