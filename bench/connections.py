#!/usr/bin/env python3
"""Clients that hold connections without doing their part, against a server on loopback.

    python3 bench/connections.py BINARY [--readers 300] [--slowloris 2000] [-- SERVE FLAGS...]

Starts `BINARY serve` on a free loopback port over a temp data directory, makes one large
result (a 4K PNG from the preview engine, about 10 MB), then:

1. non-reading clients: `--readers` sockets ask for that image's signed link and never
   read; the server's peak RSS and its open sockets are sampled for `--hold` seconds;
2. slowloris: `--slowloris` sockets send a request line and then one header byte a second;
   it reports how many the server has closed as time goes by, and whether /healthz answers
   (on a fresh connection, once a second) meanwhile.

Every loop is bounded in count and time; only 127.0.0.1 is contacted; the server is
stopped at the end. Prints one line per measurement.
"""
import argparse
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_sockets(pid):
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def http(base, path, key=None, body=None, timeout=10):
    request = urllib.request.Request(base + path, data=body, method="POST" if body else "GET")
    if key:
        request.add_header("x-api-key", key)
    if body:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


def healthy(base):
    try:
        return http(base, "/healthz", timeout=2)[0] == 200
    except Exception:
        return False


def start_server(binary, data, port, flags):
    log = open(os.path.join(data, "server.log"), "w+")
    server = subprocess.Popen(
        [binary, "serve", "--port", str(port), "--data-dir", data, "--workers", "1", *flags],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if healthy(base):
            break
        time.sleep(0.1)
    log.seek(0)
    key = next(line.strip() for line in log if line.strip().startswith("nb_"))
    return server, base, key


def large_result(base, key):
    body = json.dumps({"prompt": "a detailed map of a harbour city", "output_resolution": "4K",
                       "output_format": "png"}).encode()
    request_id = json.loads(http(base, "/v2/nano-banana-2", key, body)[1])["request_id"]
    for _ in range(600):
        status, payload = 0, b""
        try:
            status, payload = http(base, f"/v2/requests/{request_id}", key)
        except urllib.error.HTTPError as error:
            status = error.code
        if status == 200:
            return json.loads(payload)["output"]
        time.sleep(0.5)
    raise SystemExit("the large result did not complete in 300 s")


def non_reading(pid, port, path, readers, hold):
    clients = []
    for _ in range(readers):
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", port))
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        clients.append(client)
    peak, samples = 0.0, []
    start = time.time()
    while time.time() - start < hold:
        rss = rss_mb(pid)
        peak = max(peak, rss)
        samples.append((round(time.time() - start), round(rss), open_sockets(pid)))
        time.sleep(1)
    for client in clients:
        client.close()
    return peak, samples


def slowloris(base, port, count, duration):
    selector = selectors.DefaultSelector()
    open_clients = set()
    for _ in range(count):
        client = socket.socket()
        client.connect(("127.0.0.1", port))
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        client.setblocking(False)
        selector.register(client, selectors.EVENT_READ)
        open_clients.add(client)
    start, timeline, health = time.time(), [], []
    while time.time() - start < duration and open_clients:
        for client in list(open_clients):
            try:
                client.send(b"X")
            except OSError:
                pass
        deadline = time.time() + 1
        while time.time() < deadline:
            for key, _ in selector.select(timeout=max(0, deadline - time.time())):
                client = key.fileobj
                try:
                    gone = client.recv(4096) == b""
                except OSError:
                    gone = True
                if gone:
                    selector.unregister(client)
                    client.close()
                    open_clients.discard(client)
        health.append(healthy(base))
        timeline.append((round(time.time() - start), count - len(open_clients)))
    for client in open_clients:
        client.close()
    return timeline, health


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--hold", type=int, default=40)
    parser.add_argument("--slowloris", type=int, default=2000)
    parser.add_argument("--slowloris-seconds", type=int, default=20)
    parser.add_argument("flags", nargs="*")
    arguments = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    data = tempfile.mkdtemp(prefix="nb-connections-")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server, base, key = start_server(arguments.binary, data, port, arguments.flags)
    try:
        output = large_result(base, key)
        path = output[output.index("/v2/files/"):]
        size = len(http(base, path)[1])
        print(f"image: {size / 1e6:.1f} MB; server RSS after one download: {rss_mb(server.pid):.0f} MB")
        if arguments.readers:
            peak, samples = non_reading(server.pid, port, path, arguments.readers, arguments.hold)
            print(f"non-reading clients: {arguments.readers}; peak RSS {peak:.0f} MB; "
                  f"(seconds, RSS MB, server sockets): {samples[::5]}")
            time.sleep(2)
            print(f"after they left: RSS {rss_mb(server.pid):.0f} MB, server sockets {open_sockets(server.pid)}")
        if arguments.slowloris:
            timeline, health = slowloris(base, port, arguments.slowloris, arguments.slowloris_seconds)
            print(f"slowloris: {arguments.slowloris} connections; (seconds, closed by the server): {timeline}")
            print(f"/healthz during slowloris: {sum(health)} of {len(health)} answered; "
                  f"RSS {rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
