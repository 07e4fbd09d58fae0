"""Issue 16's reproductions, bounded and on loopback: malformed messages to ccser-proxy,
and a subscription flood against `ccserd --publish` and against the proxy's backend.

    python benchmarks/hardening.py [--subscriptions 800000] [--flood-seconds 20]

1. Every malformed message of the review (and a few more), each sent `--repeat`
   times by a fake daemon on the proxy's frontend: is the proxy still running
   and forwarding, and what did its metrics count?
2. A raw XSUB (ZeroMQ's default 100 ms reconnect, so it comes back and replays
   everything each time it is cut off) sends `--subscriptions` unique SUBSCRIBE
   frames to a real `ccserd --publish` replaying generated speech in real time
   (default model). Sampled every 0.1 s: the daemon's RSS; from its status
   events (every 0.5 s): capture overflows and the longest gap between two
   heartbeats (a stalled main loop shows there).
3. The same flood on a real `ccser-proxy`'s backend with a ccserd behind it:
   RSS of both, the daemon's overflows and heartbeat gaps.

Prints the figures and writes them into the "Hardening (issue 16)" section of
benchmarks/RESULTS.md (its own sub-section only).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "daemon"))
from daemon_helpers import free_address, silence, speech_like, write_wav  # noqa: E402
from results_md import RESULTS, machine  # noqa: E402
from test_daemon_hardening import FLOODER, MALFORMED, status_event  # noqa: E402

from ccser_core.client import subscribe  # noqa: E402

BIN = Path(sys.executable).parent
SECTION = "## Hardening (issue 16)"
SUBSECTION = "### Malformed messages and subscription floods (items 1, 2)"
FLOOD_HEADER = ("| target | flood (raw XSUB: ZeroMQ reconnects it every 100 ms) "
                "| RSS before -> peak (MB) | capture overflows "
                "| longest gap between 0.5 s heartbeats (s) | cut off |\n"
                "|---|---|---:|---:|---:|---|")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Peak:
    """Samples the RSS of some processes every 0.1 s on a thread; keeps each one's peak."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids, self.peak = pids, dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], rss_mb(pid))

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return self.peak


class Statuses:
    """Keeps one daemon's status events from a subscriber thread."""

    def __init__(self, address: str) -> None:
        self.events: list = []
        threading.Thread(target=self._run, args=(address,), daemon=True).start()

    def _run(self, address: str) -> None:
        for event in subscribe(address, topics=["status"], timeout_s=120):
            self.events.append(event)
            if event.state == "stopping":
                return

    def since(self, t0: float) -> tuple[int, float]:
        """(overflows added, longest gap between heartbeats in s) after wall time t0."""
        times = [e.time for e in self.events if e.time >= t0]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        before = [e.overflows for e in self.events if e.time < t0]
        return (self.events[-1].overflows - (before[-1] if before else 0),
                max(gaps, default=float("nan")))


def proxy(frontend: str, backend: str) -> subprocess.Popen:
    proc = subprocess.Popen([str(BIN / "ccser-proxy"), "--frontend", frontend, "--backend",
                             backend, "--stats-interval", "3600"], stderr=subprocess.PIPE,
                            text=True)
    line = proc.stderr.readline()
    while "forwarding" not in line:
        if not line:
            raise SystemExit("ccser-proxy did not start")
        line = proc.stderr.readline()
    return proc


def ccserd(wav: Path, *where: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([str(BIN / "ccserd"), "--source", str(wav), "--name", "desk",
                             "--status-interval", "0.5", *where], env=env,
                            stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def malformed(repeat: int) -> list[str]:
    frontend, backend = free_address(), free_address()
    proc = proxy(frontend, backend)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(backend)
    daemon = ctx.socket(zmq.XPUB)
    daemon.setsockopt(zmq.SNDHWM, 0)
    daemon.connect(frontend)
    if not daemon.poll(20000):
        raise SystemExit("no subscription reached the fake daemon")
    daemon.recv()
    before = rss_mb(proc.pid)
    valid = [b"status", status_event(1)]
    forwarded = 0
    for _ in range(repeat):
        for frames in MALFORMED:
            daemon.send_multipart(frames)
    daemon.send_multipart(valid)
    while sub.poll(10000):
        frames = sub.recv_multipart()
        forwarded += 1
        if frames == valid:
            break
    time.sleep(0.5)
    alive, after = proc.poll() is None, rss_mb(proc.pid)
    rc, err = stop(proc)
    ctx.destroy(linger=0)
    counted = re.search(r"(\d+) unreadable", err.splitlines()[-1] if err else "")
    sent = repeat * len(MALFORMED)
    print(f"malformed: {sent} sent ({len(MALFORMED)} kinds x {repeat}); proxy alive {alive}, "
          f"{forwarded - 1} forwarded before the valid event, {counted and counted[1]} counted "
          f"unreadable; RSS {before:.0f} -> {after:.0f} MB; exit {rc} on SIGTERM")
    return [f"| ccser-proxy | {sent} malformed messages ({len(MALFORMED)} kinds: `[1]`, "
            "`{\"seq\": Infinity}`, 200000 x `[`, one and three frames, not UTF-8, ...) "
            f"then a valid event | {'running' if alive else 'DEAD'}; {forwarded - 1} forwarded "
            f"unchanged, then the valid event; {counted and counted[1]} counted unreadable; "
            f"exit {rc} on SIGTERM | {before:.0f} -> {after:.0f} |"]


def flood(target: str, count: int, seconds: float, pids: dict[str, int],
          statuses: Statuses) -> tuple[dict[str, float], dict[str, float], str, int, float]:
    """Flood `target` for at most `seconds`; returns RSS before, peak, the flooder's report,
    overflows added and the longest heartbeat gap."""
    deadline = time.monotonic() + 120
    while not statuses.events:  # the daemon is running
        if time.monotonic() > deadline:
            raise SystemExit(f"no status event from the daemon after 120 s ({pids})")
        time.sleep(0.1)
    time.sleep(3.0)  # a few heartbeats before
    before = {name: rss_mb(pid) for name, pid in pids.items()}
    t0 = time.time()
    peak = Peak(pids)
    flooder = subprocess.Popen([sys.executable, "-c", FLOODER, target, str(count), "100"],
                               stdout=subprocess.PIPE, text=True)
    queued = select_line(flooder, seconds)
    report = (f"{count} unique subscriptions ({queued.split(' in ')[-1]} to queue), replayed "
              f"on every reconnect for {seconds:.0f} s" if queued else
              f"{count} unique subscriptions (not all queued by the flooder after "
              f"{seconds:.0f} s), replayed on every reconnect")
    time.sleep(max(0.0, t0 + seconds - time.time()))  # reconnecting and replaying till then
    flooder.kill()
    flooder.wait()
    time.sleep(2.0)
    peaks = peak.stop()
    overflows, gap = statuses.since(t0)
    return before, peaks, report, overflows, gap


def select_line(proc: subprocess.Popen, timeout: float) -> str:
    import select

    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, timeout))
    return proc.stdout.readline().strip() if ready else ""


def cut_off(err: str) -> str:
    found = re.findall(r"(\d+) subscriber connection\(s\) cut off in all", err)
    return f"{found[-1]} connection(s)" if found else "none logged"


def daemon_flood(wav: Path, count: int, seconds: float) -> list[str]:
    address = free_address()
    statuses = Statuses(address)
    daemon = ccserd(wav, "--publish", address, "--wait-subscribers", "1")
    before, peak, report, overflows, gap = flood(address, count, seconds,
                                                  {"ccserd": daemon.pid}, statuses)
    alive = daemon.poll() is None
    rc, err = stop(daemon)
    print(f"ccserd --publish: {report}; RSS {before['ccserd']:.0f} -> peak "
          f"{peak['ccserd']:.0f} MB; {overflows} overflows; longest heartbeat gap "
          f"{gap:.2f} s (every 0.5 s); alive {alive}, exit {rc}; {cut_off(err)}")
    return [f"| ccserd --publish | {report} | {before['ccserd']:.0f} -> {peak['ccserd']:.0f} "
            f"| {overflows} | {gap:.2f} | {cut_off(err)} |"]


def proxy_flood(wav: Path, count: int, seconds: float) -> list[str]:
    frontend, backend = free_address(), free_address()
    relay = proxy(frontend, backend)
    statuses = Statuses(backend)
    daemon = ccserd(wav, "--connect-proxy", frontend, "--wait-subscribers", "1")
    before, peak, report, overflows, gap = flood(backend, count, seconds,
                                                  {"proxy": relay.pid, "ccserd": daemon.pid},
                                                  statuses)
    alive = relay.poll() is None and daemon.poll() is None
    stop(daemon)
    rc, err = stop(relay)
    print(f"ccser-proxy backend: {report}; proxy RSS {before['proxy']:.0f} -> peak "
          f"{peak['proxy']:.0f} MB, ccserd behind it {before['ccserd']:.0f} -> peak "
          f"{peak['ccserd']:.0f} MB; {overflows} overflows; longest heartbeat gap {gap:.2f} s; "
          f"alive {alive}, proxy exit {rc}; {cut_off(err)}")
    return [f"| ccser-proxy backend | {report} | {before['proxy']:.0f} -> {peak['proxy']:.0f} "
            f"| - | - | {cut_off(err)} |",
            f"| ccserd behind that proxy | (what the proxy passed on) | {before['ccserd']:.0f} -> "
            f"{peak['ccserd']:.0f} | {overflows} | {gap:.2f} | - |"]


def write_results(rows_malformed: list[str], rows_flood: list[str], args: argparse.Namespace
                  ) -> None:
    body = f"""{SUBSECTION}

`python benchmarks/hardening.py --subscriptions {args.subscriptions}` on {machine()}
(load average {os.getloadavg()[0]:.1f} at the end: the machine is shared).
Loopback only. Before the fix (the review): `[b"status", b"[1]"]` ended ccser-proxy (rc 1);
~800k unique subscriptions took ccserd 105 -> 2476 MB and stalled its loop ~11 s (2090
capture overflows), and the proxy 21 -> 2511 MB (passing the flood on: its daemon
105 -> 286 MB). Target: every process survives, RSS under 300 MB, no overflow.

| target | input | outcome | RSS before -> after (MB) |
|---|---|---|---:|
{chr(10).join(rows_malformed)}

{FLOOD_HEADER}
{chr(10).join(rows_flood)}

A subscriber that sends more than 64 KiB over one connection is shut down under
libzmq by a thread beside the socket (`daemon.bind.ConnectionWatch`, every 20 ms),
whatever the daemon's loop is doing; `Publisher.poll` reads for at most 5 ms a call.
"""
    text = RESULTS.read_text()
    own = re.compile(rf"^{re.escape(SUBSECTION)}\n.*?(?=^### |^## |\Z)", re.S | re.M)
    if own.search(text):
        text = own.sub(lambda _: body + "\n", text)
    elif SECTION in text:
        after = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
        text = after.sub(lambda m: m.group(0).rstrip() + "\n\n" + body + "\n", text)
    else:
        text = text.rstrip() + f"\n\n{SECTION}\n\n{body}\n"
    RESULTS.write_text(text.rstrip() + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=800_000)
    parser.add_argument("--flood-seconds", type=float, default=20.0,
                        help="how long the flooder keeps at it")
    parser.add_argument("--repeat", type=int, default=100,
                        help="times each malformed message is sent")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccser-hardening-"))
    seconds = args.flood_seconds + 20
    wav = write_wav(work / "speech.wav", *([speech_like(2.5, seed=1), silence(1.0)]
                                           * int(seconds // 3.5 + 4)))
    rows_malformed = malformed(args.repeat)
    rows_flood = daemon_flood(wav, args.subscriptions, args.flood_seconds)
    rows_flood += proxy_flood(wav, args.subscriptions, args.flood_seconds)
    if not args.no_write:
        write_results(rows_malformed, rows_flood, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
