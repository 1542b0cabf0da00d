"""The `nano-banana` client commands end to end, as subprocesses against a real server."""

from __future__ import annotations

import json
import subprocess

from imgutil import JPEG_MAGIC, PNG_MAGIC
from nbserver import BIN, clean_env


def cli(server, *args: str, key: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = clean_env({"NANO_BANANA_URL": f"{server.base}/v1", "SEGMIND_API_KEY": key or server.key})
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_run_writes_the_image_and_says_where(server, tmp_path):
    """`run` exits 0, writes the file it names, and prints plain progress lines off a TTY."""
    out = tmp_path / "out.png"
    done = cli(server, "run", "a 'hello' sign", "--resolution", "512px", "--format", "png", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert str(out) in done.stdout
    assert "\x1b[" not in done.stderr and "COMPLETED" in done.stderr


def test_run_json_prints_the_result_body(server, tmp_path):
    """`run --json` prints the result body."""
    done = cli(server, "run", "x", "--resolution", "512px", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["status"] == "COMPLETED" and body["width"] == 512


def test_failed_job_exits_1(server):
    """A blocked prompt exits 1 with the server's error on stderr."""
    done = cli(server, "run", "something forbidden")
    assert done.returncode == 1
    assert "Content blocked" in done.stderr


def test_usage_error_exits_2(server):
    """A bad flag value exits 2 and names the field."""
    done = cli(server, "run", "x", "--aspect-ratio", "7:3")
    assert done.returncode == 2
    assert "aspect_ratio" in done.stderr


def test_timeout_exits_3_and_prints_the_id_to_resume(slow_server, tmp_path):
    """Past --timeout, `run` exits 3 and prints the id; `wait ID` then finishes the job."""
    done = cli(slow_server, "run", "x", "--resolution", "512px", "--timeout", "0.5")
    assert done.returncode == 3
    request_id = done.stdout.strip().splitlines()[-1]
    out = tmp_path / "resumed.jpg"
    resumed = cli(slow_server, "wait", request_id, "-o", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes()[:3] == JPEG_MAGIC


def test_timeout_is_honoured_at_once(slow_server):
    """`run --timeout 0.05` gives up 50 ms after the submit, not at a later poll."""
    done = cli(slow_server, "run", "x", "--resolution", "512px", "--timeout", "0.05")
    assert done.returncode == 3, done.stderr
    waited = float(done.stderr.split("Timed out after ")[1].split(" s;")[0])
    # The figure it prints is the wait itself; the bound only tells "at once" from "at the
    # next poll" (0.5 s before) on a loaded machine.
    assert 0.05 <= waited < 0.3, done.stderr


def test_submit_status_result(server, tmp_path):
    """`submit` prints an id; `status` prints JSON; `result -o` downloads once done; local refs are sent."""
    ref = tmp_path / "ref.png"
    first = cli(server, "run", "ref", "--resolution", "512px", "--format", "png", "-o", str(ref))
    assert first.returncode == 0, first.stderr
    submitted = cli(server, "submit", "x", "--resolution", "512px", "--ref", str(ref))
    assert submitted.returncode == 0, submitted.stderr
    request_id = submitted.stdout.strip()
    waited = cli(server, "wait", request_id, "--json")
    assert waited.returncode == 0 and json.loads(waited.stdout)["request_id"] == request_id
    status = cli(server, "status", request_id)
    assert json.loads(status.stdout)["status"] == "COMPLETED"
    out = tmp_path / "r.jpg"
    result = cli(server, "result", request_id, "-o", str(out))
    assert result.returncode == 0 and out.read_bytes()[:3] == JPEG_MAGIC


def test_missing_key_is_a_usage_error(server):
    """No key at all exits 2 with a clear message."""
    env = clean_env({"NANO_BANANA_URL": f"{server.base}/v1"})
    done = subprocess.run([BIN, "run", "x"], capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 2
    assert "SEGMIND_API_KEY" in done.stderr
