"""Fixtures: real `nano-banana serve` processes on loopback, driven by the
unmodified `segmind` SDK from PyPI."""

from __future__ import annotations

import os

import httpx
import pytest
import segmind

from nbserver import STARTED, NanoBananaServer

MODEL = "nano-banana-2"

# The SDK falls back to SEGMIND_API_KEY when api_key is empty; a developer's
# real key must neither leak into these tests nor mask a missing-key case.
os.environ.pop("SEGMIND_API_KEY", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in STARTED:
            report.sections.append((f"server log: {srv.name}", srv.tail(60)))


def _serve(tmp_path_factory, name: str, args: list[str], env: dict[str, str] | None = None):
    root = tmp_path_factory.mktemp(name)
    srv = NanoBananaServer(name, root / "data", args, env=env)
    srv.start()
    return srv


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The main server: preview engine with a block word, visible latency,
    2 workers, 4 s retention, 2 MB body limit."""
    srv = _serve(
        tmp_path_factory,
        "main",
        ["--block-word", "forbidden", "--preview-latency", "0.3", "--workers", "2",
         "--retention", "4", "--sync-timeout", "20"],
        env={"NANO_BANANA_MAX_BODY_BYTES": "2000000"},
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(server):
    c = segmind.SegmindClient(api_key=server.key, base_url=f"{server.base}/v1")
    yield c
    c._client.close()


@pytest.fixture(scope="session")
def key_b(server):
    """A second key on the same server (made with `keys create` while it runs)."""
    return server.create_key("second")


@pytest.fixture(scope="session")
def client_b(server, key_b):
    c = segmind.SegmindClient(api_key=key_b, base_url=f"{server.base}/v1")
    yield c
    c._client.close()


@pytest.fixture(scope="session")
def raw(server):
    """Plain httpx with the key, for what the SDK hides (HTTP codes, headers)."""
    with httpx.Client(base_url=server.base, headers={"x-api-key": server.key}, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def slow_server(tmp_path_factory):
    """A server whose jobs outlast the v1 deadline: 3 s latency, 1 s sync timeout."""
    srv = _serve(tmp_path_factory, "slow", ["--preview-latency", "3", "--sync-timeout", "1", "--workers", "2"])
    yield srv
    srv.stop()


@pytest.fixture
def cluster(tmp_path, request):
    """A PostgreSQL of the test's own (named after its module) and the nodes the test
    starts on it; all of them are stopped at the end, whatever happens."""
    from pgcluster import Cluster, PgCluster

    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    pg = PgCluster(f"{name}-pg", keep_log_in=tmp_path)
    c = Cluster(tmp_path, pg)
    try:
        pg.start()
        yield c
    finally:
        c.close()
