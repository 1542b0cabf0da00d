"""Start, stop and inspect a `nano-banana serve` process for the tests.

Every server binds 127.0.0.1 only, logs (stdout + stderr) to a file in its own
temp dir, and every wait here is bounded.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
BIN = os.environ.get("NANO_BANANA_BIN") or str(REPO / ".build" / "debug" / "nano-banana")

KEY_LINE = re.compile(r"^\s+(nb_\S+)$")

# How much slower than a quiet machine this one may be. The tests' time bounds are set
# for a quiet machine with slack; CI and developers run them on 2 shared cores, often
# while another build compiles, where a request that takes 5 s on a quiet machine was
# seen to take 21 s. Bounds that only guard against a hang (an unbounded wait) or that
# wait for work to happen are multiplied by this; NB_TEST_TIME_FACTOR=1 checks the quiet
# machine's figures. It never scales what the server is configured to do (its deadlines,
# timeouts, latencies), only how long the tests wait to see it.
TIME_FACTOR = max(1.0, float(os.environ.get("NB_TEST_TIME_FACTOR") or 3))


def scaled(seconds: float) -> float:
    """A time bound for a quiet machine, stretched for a loaded one (see TIME_FACTOR)."""
    return seconds * TIME_FACTOR

# Every server started in this pytest process, so a failing test can show
# their log tails (see conftest.pytest_runtest_makereport).
STARTED: list["NanoBananaServer"] = []


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file, headed by its path, for failure messages."""
    try:
        text = Path(path).read_text("utf-8", "replace")
    except OSError:
        return f"(no log at {path})"
    return f"--- last {lines} lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the server: no inherited NANO_BANANA_* / Gemini
    settings (the tests pick every option), plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NANO_BANANA_") and k not in ("GEMINI_API_KEY", "SEGMIND_API_KEY")
    }
    env.update(extra or {})
    return env


class NanoBananaServer:
    def __init__(self, name: str, data_dir: Path, args: list[str], env: dict[str, str] | None = None,
                 port: int | None = None, separate_stderr: bool = False) -> None:
        self.name = name
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.env = clean_env(env)
        self.port = port or free_port()
        self.log_path = self.data_dir.parent / f"{name}.log"
        # With separate_stderr, the log lines (stderr) go to their own file, apart from
        # what the server prints on stdout (the first-run banner): for tests that read them.
        self.stderr_path: Path | None = self.data_dir.parent / f"{name}.stderr.log" if separate_stderr else None
        self._stderr = None
        self.proc: subprocess.Popen | None = None
        self.key: str | None = None
        # False for servers that print no first-run key (a PostgreSQL store that
        # already has keys): start() then leaves .key alone.
        self.expect_key = True
        self.cwd: Path | None = None  # the process's working directory (None: ours)
        self._log = None
        self.starts = 0
        STARTED.append(self)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "NanoBananaServer":
        if not os.path.exists(BIN):
            raise RuntimeError(f"server binary not found at {BIN}; run `swift build --product nano-banana` "
                               "or set NANO_BANANA_BIN")
        self.starts += 1
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n===== start #{self.starts} on port {self.port} =====\n".encode())
        self._log.flush()
        offset = self._log.tell()
        if self.stderr_path is not None:
            self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log,
                                     stderr=self._stderr if self._stderr is not None else subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd)
        self.wait_ready(offset, timeout)
        if self.key is None and self.expect_key:
            self.key = self._read_key(offset)
        return self

    def command(self) -> list[str]:
        """The command line start() runs (subclasses run other subcommands)."""
        return [BIN, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), *self.args]

    def wait_ready(self, offset: int, timeout: float) -> None:
        """Block until the process just started answers GET /healthz with 200
        (`offset`: where its output starts in the log); kill it and raise with
        the log tail if it exits or is not ready within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited with {self.proc.returncode}\n{self.tail()}")
            try:
                r = httpx.get(self.base + "/healthz", timeout=2)
                if r.status_code == 200 and r.json().get("status") == "ok":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"server {self.name} not healthy within {timeout}s\n{self.tail()}")
            time.sleep(0.1)

    def _read_key(self, offset: int) -> str:
        deadline = time.monotonic() + 10
        while True:
            text = self.log_path.read_bytes()[offset:].decode("utf-8", "replace")
            for line in text.splitlines():
                m = KEY_LINE.match(line)
                if m:
                    return m.group(1)
            if time.monotonic() > deadline:
                raise RuntimeError(f"no API key line in the output of {self.name}\n{self.tail()}")
            time.sleep(0.1)

    def create_key(self, name: str, credits: int | None = None, rpm: int | None = None,
                   burst: int | None = None, models: str | None = None, admin: bool = False) -> str:
        extra = ["--credits", str(credits)] if credits is not None else []
        extra += ["--admin"] if admin else []
        extra += ["--rpm", str(rpm)] if rpm is not None else []
        extra += ["--burst", str(burst)] if burst is not None else []
        extra += ["--models", models] if models is not None else []
        out = subprocess.run([BIN, "keys", "create", "--name", name, "--data-dir", str(self.data_dir), *extra],
                             capture_output=True, text=True, timeout=30, env=self.env, check=True)
        lines = [l.strip() for l in out.stdout.splitlines() if l.strip()]
        assert lines and lines[-1].startswith("nb_"), out.stdout + out.stderr
        return lines[-1]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, nothing is flushed or drained."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_log()

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._close_log()

    def terminate(self, grace: float = 15.0) -> int | None:
        """SIGTERM (a graceful stop: drain), SIGKILL after `grace` seconds;
        returns the exit code (negative: killed by that signal)."""
        self.stop(grace)
        return self.returncode

    def restart(self, grace: float = 15.0, timeout: float = 60.0) -> "NanoBananaServer":
        """SIGTERM, then start again: same port, data dir, arguments and log."""
        self.stop(grace)
        return self.start(timeout)

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def tail(self, lines: int = 40) -> str:
        text = log_tail(self.log_path, lines)
        if self.stderr_path is not None:
            text += "\n" + log_tail(self.stderr_path, lines)
        return text
