"""A throwaway PostgreSQL (scripts/postgres.sh) and the nano-banana processes of
a cluster on it: API nodes (`serve --store postgres://…`, with or without their
own workers) and worker nodes (`worker --store postgres://…`, no HTTP port).

Everything binds 127.0.0.1 only, every process logs to its own file, every wait
is bounded, and every object registers in nbserver.STARTED so a failing test
shows its log tail (conftest.pytest_runtest_makereport).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from nbserver import BIN, REPO, STARTED, NanoBananaServer, clean_env, log_tail

SCRIPT = REPO / "scripts" / "postgres.sh"
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PSQL = str(Path(PG_BIN) / "psql") if (Path(PG_BIN) / "psql").exists() else "psql"

_RUNNING: list["PgCluster"] = []


@lru_cache(maxsize=None)
def worker_support() -> str | None:
    """None when the binary has the `worker` subcommand, else why not (a skip
    reason). Asked once per pytest process; retried a few times because the
    binary may be being relinked (ETXTBSY, a truncated file)."""
    if not os.path.exists(BIN):
        return f"server binary not found at {BIN}"
    last = ""
    for _ in range(5):
        try:
            out = subprocess.run([BIN, "worker", "--help"], capture_output=True, text=True, timeout=30,
                                 env=clean_env())
        except (OSError, subprocess.TimeoutExpired) as e:
            last = f"could not run `{BIN} worker --help`: {e}"
            time.sleep(2)
            continue
        # An unknown subcommand followed by --help prints the root help and exits 0
        # (swift-argument-parser), so the usage line is what tells.
        if out.returncode == 0 and "nano-banana worker" in out.stdout:
            return None
        if out.returncode == 0 or out.returncode == 64 or "Unexpected argument" in out.stderr:
            return (f"{BIN} has no `worker` subcommand yet (the PostgreSQL cluster mode); "
                    "rebuild with `swift build --product nano-banana`")
        last = f"`{BIN} worker --help` exited {out.returncode}: {out.stderr.strip()[-500:]}"
        time.sleep(2)
    return last


class PgCluster:
    """One PostgreSQL 15 cluster in a fresh dir under /tmp (not pytest's tmp dirs:
    those are 0700 root, so the `postgres` OS user could not reach them)."""

    def __init__(self, name: str = "pg", keep_log_in: Path | None = None) -> None:
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"nbpg-{name}-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.keep_log_in = Path(keep_log_in) if keep_log_in else None
        self.url: str | None = None
        self.log_path = self.dir / "postgres.log"
        STARTED.append(self)  # duck-typed: .name and .tail() are all conftest uses

    def _script(self, action: str, timeout: float) -> str:
        try:
            out = subprocess.run(["bash", str(SCRIPT), action, str(self.dir)], capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"scripts/postgres.sh {action} {self.dir} took over {timeout}s\n"
                               f"{e.stderr or ''}\n{self.tail()}") from None
        if out.returncode != 0:
            raise RuntimeError(f"scripts/postgres.sh {action} {self.dir} exited {out.returncode}:\n"
                               f"{out.stderr}\n{self.tail()}")
        return out.stdout.strip()

    def start(self, timeout: float = 90.0) -> "PgCluster":
        """initdb (first time) and start; a later start() reuses the data dir and
        the port, so the URL stays the same across stop()/start()."""
        url = self._script("start", timeout)
        if self.url is not None and url != self.url:
            raise RuntimeError(f"PostgreSQL came back at {url}, not at {self.url}")
        self.url = url
        if self not in _RUNNING:
            _RUNNING.append(self)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """`pg_ctl stop -m fast`: open connections are cut; fine if not running."""
        self._script("stop", timeout)

    def running(self) -> bool:
        return subprocess.run(["bash", str(SCRIPT), "status", str(self.dir)], capture_output=True,
                              timeout=30).returncode == 0

    def destroy(self) -> None:
        """Stop it and delete its dir; its log is first copied to keep_log_in
        (e.g. the test's tmp_path) for a post-mortem."""
        try:
            self.stop()
        finally:
            if self in _RUNNING:
                _RUNNING.remove(self)
            if self.keep_log_in is not None and self.log_path.parent == self.dir:
                keep = self.keep_log_in / f"{self.name}-postgres.log"
                try:
                    shutil.copyfile(self.log_path, keep)
                    self.log_path = keep
                except OSError:
                    pass
            shutil.rmtree(self.dir, ignore_errors=True)

    def psql(self, sql: str, timeout: float = 30.0) -> str:
        """Run one statement with `psql -At`; its output, stripped."""
        assert self.url, "PostgreSQL not started"
        out = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, self.url],
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed ({out.returncode}) for {sql!r}: {out.stderr.strip()}")
        return out.stdout.strip()

    def unfinished(self, limit: int = 20) -> str:
        """The jobs not yet COMPLETED or FAILED, as a table for a failure message:
        how long ago each was created, its attempts, holder and lease."""
        try:
            return self.psql(
                "SELECT id || ' ' || status || ' attempts=' || attempts || ' worker=' || coalesce(worker_id, '-') "
                "|| ' created ' || round((extract(epoch from now()) - created_at)::numeric, 1) || 's ago'"
                "|| coalesce(' lease ends in ' || round((lease_expires_at - extract(epoch from now()))::numeric, 1) "
                "|| 's', '') FROM jobs WHERE status NOT IN ('COMPLETED', 'FAILED') ORDER BY seq "
                f"LIMIT {limit}") or "(none)"
        except Exception as e:
            return f"(psql failed: {e})"

    def scalar(self, sql: str) -> int:
        return int(self.psql(sql) or 0)

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


@atexit.register
def _stop_leftovers() -> None:
    """A run interrupted before its finalizers still leaves no postmaster behind."""
    for pg in list(_RUNNING):
        try:
            pg.destroy()
        except Exception:
            pass


def create_key(store_url: str, name: str, credits: int | None = None) -> str:
    """`nano-banana keys create --store URL`; the secret (nb_…)."""
    cmd = [BIN, "keys", "create", "--name", name, "--store", store_url]
    if credits is not None:
        cmd += ["--credits", str(credits)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=clean_env())
    lines = [l.strip() for l in out.stdout.splitlines() if l.strip()]
    if out.returncode != 0 or not lines or not lines[-1].startswith("nb_"):
        raise RuntimeError(f"keys create exited {out.returncode}\nstdout: {out.stdout}\nstderr: {out.stderr}")
    return lines[-1]


def _squeeze(tail: str) -> str:
    """A log tail with runs of PostgresNIO's per-attempt "Connection creation failed"
    lines (many a second while the database is down) cut to the first of each run."""
    out: list[str] = []
    run = 0
    for line in tail.splitlines():
        if "[PostgresNIO] Connection creation failed" in line:
            run += 1
            if run > 1:
                continue
        elif run > 1:
            out.append(f"    … {run - 1} more PostgresNIO \"Connection creation failed\" lines")
            run = 0
        else:
            run = 0
        out.append(line)
    if run > 1:
        out.append(f"    … {run - 1} more PostgresNIO \"Connection creation failed\" lines")
    return "\n".join(out)


class _Squeezed:
    log_path: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return f"(no log at {self.log_path})"
        kept = _squeeze(text).splitlines()[-lines:]
        return f"--- last {lines} lines of {self.log_path} (runs of reconnect noise cut) ---\n" + "\n".join(kept)


class ApiNode(_Squeezed, NanoBananaServer):
    """`nano-banana serve --store URL` on 127.0.0.1; `workers=False` adds
    --no-workers. Ready when GET /healthz answers 200. Prints no key: make keys
    with create_key() first."""

    def __init__(self, name: str, root: Path, store_url: str, args: list[str] | None = None, *,
                 workers: bool = True, env: dict[str, str] | None = None, port: int | None = None) -> None:
        (Path(root) / name).mkdir(parents=True, exist_ok=True)
        store = ["--store", store_url] + ([] if workers else ["--no-workers"])
        super().__init__(name, Path(root) / name / "data", store + list(args or []), env=env, port=port)
        self.expect_key = False


class WorkerNode(_Squeezed, NanoBananaServer):
    """`nano-banana worker --store URL`: no HTTP port. Ready when its log says
    "Worker pool started"; SIGTERM drains, then it exits 0."""

    READY = "Worker pool started"

    def __init__(self, name: str, root: Path, store_url: str, args: list[str] | None = None, *,
                 env: dict[str, str] | None = None) -> None:
        (Path(root) / name).mkdir(parents=True, exist_ok=True)
        # data_dir places the log (root/name/name.log); the worker runs in root/name, so
        # its default ./data (it needs none with a PostgreSQL store) lands there too.
        super().__init__(name, Path(root) / name / "data", list(args or []), env=env, port=0)
        self.store_url = store_url
        self.expect_key = False
        self.cwd = Path(root) / name

    @property
    def base(self) -> str:
        raise AttributeError(f"worker node {self.name} has no HTTP port")

    def command(self) -> list[str]:
        return [BIN, "worker", "--store", self.store_url, *self.args]

    def wait_ready(self, offset: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_path.read_bytes()[offset:].decode("utf-8", "replace")
            if self.READY in text:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.proc.returncode}\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"worker {self.name} did not log {self.READY!r} within {timeout}s\n"
                                   f"{self.tail()}")
            time.sleep(0.1)


class Cluster:
    """The processes of one test, so a single finalizer ends them all."""

    def __init__(self, root: Path, pg: PgCluster) -> None:
        self.root = Path(root)
        self.pg = pg
        self.nodes: list[NanoBananaServer] = []

    def api(self, name: str, args: list[str] | None = None, *, workers: bool = True,
            env: dict[str, str] | None = None) -> ApiNode:
        node = ApiNode(name, self.root, self.pg.url, args, workers=workers, env=env)
        self.nodes.append(node)
        return node.start()

    def worker(self, name: str, args: list[str] | None = None, *,
               env: dict[str, str] | None = None) -> WorkerNode:
        node = WorkerNode(name, self.root, self.pg.url, args, env=env)
        self.nodes.append(node)
        return node.start()

    def close(self) -> None:
        """SIGTERM every node still running (SIGKILL after 10 s), then PostgreSQL."""
        try:
            for node in self.nodes:
                try:
                    node.stop(grace=10)
                except Exception:
                    node.kill()
        finally:
            self.pg.destroy()


def check_ledger(pg: PgCluster, key_id: str, initial: int, price: int, request_ids: set[str]) -> dict:
    """The credit invariants of a metered key whose every request COMPLETED:
    each request has exactly one `reserve` (-price) and then one `settle` (0) and
    no `refund`; no ledger row names another request; the balance is
    initial - price * len(request_ids) and equals the sum of the key's ledger.
    Raises AssertionError naming what is off; returns figures for a print."""
    rows = pg.psql(f"SELECT coalesce(request_id, ''), kind, amount, coalesce(balance_after::text, '') "
                   f"FROM credit_ledger WHERE key_id = '{key_id}' ORDER BY seq")
    per_request: dict[str, list[tuple[str, int]]] = {}
    others: list[tuple[str, int]] = []
    total = 0
    running_mismatch = 0
    for line in rows.splitlines():
        rid, kind, amount, after = line.split("|")
        total += int(amount)
        if after and int(after) != total:
            running_mismatch += 1
        if rid:
            per_request.setdefault(rid, []).append((kind, int(amount)))
        else:
            others.append((kind, int(amount)))
    bad = {rid: per_request.get(rid) for rid in request_ids
           if per_request.get(rid) != [("reserve", -price), ("settle", 0)]}
    assert not bad, (f"{len(bad)} of {len(request_ids)} requests lack exactly one reserve ({-price}) then one "
                     f"settle (0); e.g. {dict(list(bad.items())[:5])}")
    strangers = sorted(set(per_request) - set(request_ids))
    assert not strangers, f"ledger rows for requests not in the job list: {strangers[:10]} ({len(strangers)})"
    balance = int(pg.psql(f"SELECT credits FROM api_keys WHERE id = '{key_id}'"))
    expected = initial - price * len(request_ids)
    assert balance == expected, f"balance {balance} != {initial} - {price} * {len(request_ids)} = {expected}"
    assert total == balance, f"the ledger sums to {total}, the balance is {balance} (other rows: {others})"
    return {"balance": balance, "ledger_rows": len(rows.splitlines()), "non_request_rows": others,
            "balance_after_mismatches": running_mismatch}
