"""ccser-proxy under load: 8 daemons replaying speech in real time through one proxy.

    python benchmarks/proxy_latency.py [--daemons 8] [--seconds 30]

Starts a real `ccser-proxy` subprocess and N `ccserd --connect-proxy` replaying a
speech-like file in real time (default model), and one subscriber on the
proxy's backend. The proxy's CPU comes from /proc (user + system time over the
run); the latency it adds is subscriber receipt minus the event's `time` (the
daemon stamps it as it sends), i.e. the whole daemon -> proxy -> subscriber
hop. Rewrites the "Proxy" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "daemon"))
from daemon_helpers import free_address, silence, speech_like, write_wav  # noqa: E402
from results_md import machine, update_section  # noqa: E402

from ccser_core.client import subscribe  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
BIN = Path(sys.executable).parent


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemons", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccser-proxy-bench-"))
    parts = []
    for i in range(int(args.seconds // 3.5)):
        parts += [speech_like(2.5, seed=i), silence(1.0, seed=i)]
    wav = write_wav(work / "speech.wav", *parts)
    frontend, backend = free_address(), free_address()
    proxy = subprocess.Popen([str(BIN / "ccser-proxy"), "--frontend", frontend, "--backend",
                              backend, "--stats-interval", "3600"], stderr=subprocess.DEVNULL)
    latencies: list[float] = []
    per_source: Counter[str] = Counter()
    names = {f"desk-{i}" for i in range(args.daemons)}

    def listen() -> None:
        stopped = set()
        for event in subscribe(backend, timeout_s=30):
            latencies.append(time.time() - event.time)
            per_source[event.source] += 1
            if event.type == "status" and event.state == "stopping":
                stopped.add(event.source)
                if stopped >= names:
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1.0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    daemons = [subprocess.Popen([str(BIN / "ccserd"), "--source", str(wav), "--name", name,
                                 "--connect-proxy", frontend, "--wait-subscribers", "1",
                                 "--status-interval", "1"], env=env,
                                stderr=subprocess.DEVNULL) for name in sorted(names)]
    cpu0, t0 = cpu_seconds(proxy.pid), time.monotonic()
    for d in daemons:
        d.wait(timeout=args.seconds * 3 + 60)
    cpu1, t1 = cpu_seconds(proxy.pid), time.monotonic()
    listener.join(30)
    proxy.terminate()
    proxy.wait(10)
    shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0]
    lat = np.asarray(latencies) * 1000
    p50, p95, pmax = np.percentile(lat, [50, 95, 100])
    cpu = (cpu1 - cpu0) / (t1 - t0) * 100
    rate = len(lat) / (t1 - t0)
    print(f"{args.daemons} daemons, {len(lat)} events ({rate:.0f}/s) from {len(per_source)} "
          f"sources; proxy CPU {cpu:.1f} % of a core; latency p50 {p50:.1f} / p95 {p95:.1f} / "
          f"max {pmax:.1f} ms")
    update_section("Proxy", f"""
Machine: {machine()}; load average {load:.1f} at the end (8 daemons in real time already
fill this 2-core machine, and it is shared, so latencies are upper bounds).
Command: `python benchmarks/proxy_latency.py` ({args.daemons} daemons, {args.seconds:.0f} s of
speech-like audio each, real time, default model, `--status-interval 1`).

| measure | result |
| --- | --- |
| events through the proxy | {len(lat)} ({rate:.0f}/s) from {len(per_source)} sources |
| proxy CPU (user + system, over the run) | {cpu:.1f} % of one core |
| added latency, daemon send -> subscriber, p50 / p95 / max | {p50:.1f} / {p95:.1f} / {pmax:.1f} ms |
""")
    return 0 if len(per_source) == args.daemons else 1


if __name__ == "__main__":
    sys.exit(main())
