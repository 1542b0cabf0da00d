#!/usr/bin/env python3
"""Thousands of live-status waiters on one server: memory and CPU.

    bench/waiters.py [waiters] [streams-on-distinct-jobs]

Starts `nano-banana serve` (NANO_BANANA_BIN, default the release build, else the debug
one) on 127.0.0.1 with one worker and a 40 s preview engine, submits one job, and opens
`waiters` connections at once (default 5,000): half long-polls
(`GET /v2/requests/{id}/status?wait=60`), half event streams
(`GET /v2/requests/{id}/events`), all on that job. It prints the server's RSS before and
with every waiter connected, the server CPU the waiting cost, and how long after the
job's finish the last waiter had its answer.

Then, on a server whose one worker is held by a 10-minute job, it holds `streams-on-distinct-jobs` event streams
(default 1,000), each on a job of its own that stays QUEUED, for 10 s, and prints the CPU
per second that their queue-position rereads cost. Everything is bounded: connect and
read timeouts, at most 120 s per phase; the servers are stopped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = json.dumps({"prompt": "a 'waiting' sign", "output_resolution": "512px"}).encode()


def binary() -> str:
    if os.environ.get("NANO_BANANA_BIN"):
        return os.environ["NANO_BANANA_BIN"]
    for candidate in (ROOT / ".build-release/release/nano-banana", ROOT / ".build/debug/nano-banana"):
        if candidate.exists():
            return str(candidate)
    sys.exit("no server binary: swift build -c release --product nano-banana --scratch-path .build-release")


class Server:
    def __init__(self, args: list[str]):
        self.data = Path(tempfile.mkdtemp(prefix="nb-waiters-"))
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = open(self.data / "server.log", "w+")
        self.proc = subprocess.Popen(
            [binary(), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data / "d"),
             "--log-level", "warning", *args], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        self.log.seek(0)
        self.key = next(line.strip() for line in self.log.read().splitlines() if line.strip().startswith("nb_"))

    def submit(self) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/v2/nano-banana-2", data=BODY,
                                         headers={"x-api-key": self.key, "content-type": "application/json"})
        return json.load(urllib.request.urlopen(request, timeout=30))["request_id"]

    def rss_mib(self) -> float:
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.log.seek(0)
        problems = [line for line in self.log.read().splitlines() if " warning " in line or " error " in line]
        if problems:
            print(f"  server log: {len(problems)} warnings and errors, e.g. {problems[0][:300]}")
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.data, ignore_errors=True)


async def hold(port: int, key: str, path: str, connected: list, answered: list, timeout: float) -> str:
    """One waiter: a request with `Connection: close`, read to the end; "ok" when it ends
    with the job COMPLETED, else what happened."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 60)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {key}\r\nConnection: close\r\n\r\n"
                     .encode())
        await writer.drain()
        connected.append(1)
        data = await asyncio.wait_for(reader.read(-1), timeout)
        answered.append(time.monotonic())
        writer.close()
        if data.startswith(b"HTTP/1.1 200") and b"COMPLETED" in data:
            return "ok"
        return data.split(b"\r\n", 1)[0].decode(errors="replace") + (" (unfinished)" if data else "")
    except (OSError, asyncio.TimeoutError) as error:
        return type(error).__name__


async def one_job(waiters: int) -> None:
    server = Server(["--workers", "1", "--preview-latency", "40"])
    try:
        rid = server.submit()
        before, cpu_before = server.rss_mib(), server.cpu_seconds()
        connected: list = []
        answered: list = []
        tasks = [asyncio.create_task(hold(server.port, server.key,
                                          f"/v2/requests/{rid}/status?wait=60" if i % 2 == 0
                                          else f"/v2/requests/{rid}/events", connected, answered, 120))
                 for i in range(waiters)]
        started = time.monotonic()
        while len(connected) < waiters and time.monotonic() - started < 60:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        plateau = server.rss_mib()
        cpu_connected = server.cpu_seconds()
        # Wait for the job's end, then for every answer.
        done = await asyncio.gather(*tasks)
        last = max(answered) if answered else float("nan")
        print(f"{waiters} waiters on one job ({waiters // 2} long-polls, {waiters - waiters // 2} event streams):")
        outcomes = {}
        for outcome in done:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        print(f"  connected: {len(connected)}, outcomes: {outcomes}")
        print(f"  server RSS: {before:.0f} MiB before, {plateau:.0f} MiB with all waiting "
              f"({(plateau - before) * 1024 / max(1, len(connected)):.1f} KiB per waiter)")
        print(f"  server CPU: {cpu_connected - cpu_before:.2f} s to accept and park them, "
              f"{server.cpu_seconds() - cpu_connected:.2f} s from then to the last answer")
        print(f"  answers: first to last {last - min(answered):.2f} s")
    finally:
        server.stop()


async def distinct_jobs(streams: int) -> None:
    server = Server(["--workers", "1", "--preview-latency", "600", "--drain-timeout", "1"])
    try:
        server.submit()  # holds the one worker: the others stay QUEUED
        ids = [server.submit() for _ in range(streams)]
        connected: list = []
        tasks = [asyncio.create_task(hold(server.port, server.key, f"/v2/requests/{rid}/events", connected, [], 15))
                 for rid in ids]
        started = time.monotonic()
        while len(connected) < streams and time.monotonic() - started < 60:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        cpu, rss = server.cpu_seconds(), server.rss_mib()
        await asyncio.sleep(10)
        per_second = (server.cpu_seconds() - cpu) / 10
        print(f"{streams} event streams, each on its own QUEUED job:")
        print(f"  server RSS {rss:.0f} MiB; server CPU while they wait: {per_second:.3f} s per second "
              f"({per_second * 1e6 / streams:.0f} µs per stream per second)")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        server.stop()


def main() -> None:
    waiters = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    streams = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, waiters + streams + 512)), hard))
    asyncio.run(one_job(waiters))
    asyncio.run(distinct_jobs(streams))


if __name__ == "__main__":
    main()
