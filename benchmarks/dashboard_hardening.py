"""ccser-dashboard under the issue 16 review's attacks, bounded and on loopback only.

Starts the real `ccser-dashboard` (a child process, so its memory is its own) on a
free loopback port, subscribed to a local ZeroMQ publisher, and prints one line
per reproduction:

  relay      malformed messages (deep nesting, wrong frames, not objects), then a
             valid status: is the relay alive, how many were counted
  names      --names status events with unique 200 KB `source` names, then the same
             number with unique short names: RSS, daemons kept, snapshot size
  train      a --body-mb JSON body to POST /api/train, with Content-Length and
             chunked: answer, peak RSS (VmHWM)
  slowloris  --slow connections that send a request line and stop: how many the
             server closed within 12 s, whether a normal request works after
  token      ?token=%C3%A9 and `Authorization: Bearer é`: the answers
  headers    the security headers on the page

    python benchmarks/dashboard_hardening.py [--names 1000] [--body-mb 400] [--slow 200]
    python benchmarks/dashboard_hardening.py --src /path/to/other/checkout   # compare
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import zmq

TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def status(seq: int, source: str) -> bytes:
    return json.dumps({
        "schema_version": 2, "type": "status", "seq": seq, "time": time.time(),
        "source": source, "input": "mic", "state": "running", "uptime_s": 1.0, "audio_s": 1.0,
        "overflows": 0, "dropped_windows": 0, "dropped_messages": 0, "queue_depth": 0,
        "windows": 0, "utterances": 0, "model_id": "bench"}).encode()


def snapshot(url: str, headers: dict[str, str]) -> tuple[dict, int]:
    """The first Server-Sent Event of /api/events and its size in bytes."""
    with httpx.stream("GET", url + "/api/events", headers=headers, timeout=600) as r:
        data = bytearray()
        for chunk in r.iter_bytes():
            start = max(0, len(data) - 1)
            data += chunk
            if data.find(b"\n\n", max(start, data.find(b"data: "))) >= 0:
                break
    body = bytes(data).split(b"data: ", 1)[1].split(b"\n\n", 1)[0]
    return json.loads(body), len(body)


def relay(pub: zmq.Socket, url: str, auth: dict[str, str]) -> None:
    bad = [[b"status", b"[" * 100000], [b"status", b"[1]"], [b"status"],
           [b"status", b"{}", b"x"], [b"status", b'{"seq": Infinity}']]
    for _ in range(20):
        for frames in bad:
            pub.send_multipart(frames)
    deadline, seq = time.monotonic() + 10, 0
    snap: dict = {}
    while time.monotonic() < deadline:
        pub.send_multipart([b"status", status(seq, "after")])
        seq += 1
        time.sleep(0.3)
        snap, _ = snapshot(url, auth)
        if any(d["source"] == "after" for d in snap["daemons"]):
            break
    alive = any(d["source"] == "after" for d in snap["daemons"])
    print(f"relay      100 malformed messages sent: relay alive {'yes' if alive else 'NO'}, "
          f"counted invalid {snap.get('invalid_messages', '-')}, "
          f"valid status after them shown {'yes' if alive else 'no'}")


def names(pub: zmq.Socket, url: str, auth: dict[str, str], pid: int, n: int) -> None:
    before = memory(pid)[0]
    for i in range(n):
        pub.send_multipart([b"status", status(0, f"{i:06d}" + "x" * 200_000)])
        if i % 50 == 0:
            time.sleep(0.05)  # let the relay keep up (PUB drops beyond its high-water mark)
    time.sleep(3)
    t0 = time.monotonic()
    snap, size = snapshot(url, auth)
    took = time.monotonic() - t0
    print(f"names      {n} statuses with unique 200 KB names: RSS {before:.0f} -> "
          f"{memory(pid)[0]:.0f} MB, daemons kept {len(snap['daemons'])}, snapshot "
          f"{size / 1024:.0f} KB in {took:.2f} s, counted invalid {snap.get('invalid_messages')}")
    for i in range(n):
        pub.send_multipart([b"status", status(0, f"short-name-{i}")])
    time.sleep(3)
    snap, size = snapshot(url, auth)
    print(f"names      {n} statuses with unique short names: daemons kept "
          f"{len(snap['daemons'])}, messages from more not shown "
          f"{snap.get('ignored_messages', '-')}, snapshot {size / 1024:.0f} KB, "
          f"RSS {memory(pid)[0]:.0f} MB")


def train(url: str, auth: dict[str, str], pid: int, mb: int) -> None:
    payload = b'{"name": "' + b"x" * (mb * 2**20) + b'"}'
    headers = {**auth, "X-Ccser-Dashboard": "1", "Content-Type": "application/json"}
    for kind, content in (("Content-Length", payload),
                          ("chunked", (payload[i:i + 2**20] for i in range(0, len(payload), 2**20)))):
        t0 = time.monotonic()
        try:
            r = httpx.post(url + "/api/train", content=content, headers=headers, timeout=120)
            answer = f"{r.status_code} {r.json().get('error', '')}"
        except httpx.HTTPError as exc:
            answer = f"connection ended ({type(exc).__name__})"
        print(f"train      {mb} MB JSON body ({kind}): {answer}; "
              f"{time.monotonic() - t0:.1f} s; peak RSS so far {memory(pid)[1]:.0f} MB")


def slowloris(url: str, auth: dict[str, str], pid: int, n: int) -> None:
    host, port = url.removeprefix("http://").split(":")
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=1)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        socks.append(s)
    time.sleep(1)
    held = len(os.listdir(f"/proc/{pid}/fd")) - fds
    busy = httpx.get(url + "/api/info", headers=auth, timeout=10).status_code
    time.sleep(11)
    closed = 0
    for s in socks:
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            closed += s.recv(1) == b""
        s.close()
    after = httpx.get(url + "/api/info", headers=auth, timeout=10).status_code
    print(f"slowloris  {n} stalled requests: server fds +{held} while open, a normal request "
          f"meanwhile {busy}; closed by the server within 12 s: {closed}/{n}; "
          f"a normal request after: {after}")


def token(url: str) -> None:
    q = httpx.get(url + "/api/info?token=%C3%A9").status_code
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall("GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer é\r\n"
                  "Connection: close\r\n\r\n".encode("latin-1"))
        line = s.recv(100).split(b"\r\n")[0].decode()
    print(f"token      ?token=%C3%A9 -> {q}; Authorization: Bearer é -> {line}")


def headers(url: str, auth: dict[str, str]) -> None:
    r = httpx.get(url + "/", headers=auth)
    names = ("content-security-policy", "x-content-type-options", "referrer-policy")
    print("headers    " + "; ".join(f"{k}: {r.headers.get(k, 'MISSING')}" for k in names))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--names", type=int, default=1000)
    p.add_argument("--body-mb", type=int, default=400)
    p.add_argument("--slow", type=int, default=200)
    p.add_argument("--src", type=Path, help="run the dashboard from this checkout")
    args = p.parse_args()
    zport, http = free_port(), f"127.0.0.1:{free_port()}"
    url, auth = f"http://{http}", {"Authorization": f"Bearer {TOKEN}"}
    env = {**os.environ, "CCSER_DASHBOARD_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    if args.src:
        env["PYTHONPATH"] = str(args.src.resolve())
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 100000)
    pub.bind(f"tcp://127.0.0.1:{zport}")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "training.dashboard.cli", "--http", http, "--connect",
             f"tcp://127.0.0.1:{zport}", "--models-dir", tmp], env=env, cwd=tmp,
            stderr=open(Path(tmp) / "stderr", "w"))  # noqa: SIM115 - closed with the folder
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(url + "/api/info", headers=auth, timeout=2)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline and proc.poll() is None, "no dashboard"
                    time.sleep(0.3)
            print(f"dashboard  pid {proc.pid}, RSS at start {memory(proc.pid)[0]:.0f} MB")
            token(url)
            headers(url, auth)
            names(pub, url, auth, proc.pid, args.names)
            relay(pub, url, auth)
            slowloris(url, auth, proc.pid, args.slow)
            train(url, auth, proc.pid, args.body_mb)
        finally:
            proc.terminate()
            proc.wait(20)
            pub.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
