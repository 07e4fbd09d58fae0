"""Daemon latency, CPU, memory and throughput on real corpus speech.

    CCSER_CORPORA=../shared/corpora python benchmarks/daemon_latency.py [--seconds 180]

Replays corpus utterances (separated by silence) through a real `ccserd`
subprocess with a file source, in real time and then with --no-realtime, and
subscribes with the real client over loopback TCP. Latency of a window is
subscriber receipt time minus the wall time at which its last sample was
delivered (stream start + t_end). Targets: p95 <= 30 ms, CPU <= 15 % of a
core at real time, peak RSS <= 200 MB, >= 50x real time with --no-realtime.
Writes the "## Daemon" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "daemon"))
from daemon_helpers import Collector, build_model, free_address  # noqa: E402
from results_md import machine, update_section  # noqa: E402

from ccser_core.audio import WORKING_RATE, load_audio  # noqa: E402
from ccser_core.errors import ModelError  # noqa: E402
from ccser_core.model import load_model  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
WINDOW_S = 2.0  # ccserd's default --window


def replay_file(corpora: Path, seconds: float, out: Path) -> float:
    """Alternate emodb and ravdess utterances with 1 s of quiet noise, up to `seconds`."""
    files = sorted((corpora / "emodb" / "wav").glob("*.flac"))[::7] + \
        sorted((corpora / "ravdess").glob("Actor_*/*.flac"))[::11]
    rng = np.random.default_rng(0)
    rng.shuffle(files)
    parts, total = [], 0.0
    for f in files:
        y = load_audio(f)
        parts += [y, (3e-4 * rng.normal(size=WORKING_RATE)).astype(np.float32)]
        total += len(y) / WORKING_RATE + 1.0
        if total >= seconds:
            break
    sf.write(str(out), np.concatenate(parts), WORKING_RATE, subtype="PCM_16")
    return total


class ProcMonitor:
    """Samples /proc/<pid> CPU ticks and VmHWM (peak RSS) every 0.1 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.cpu_s, self.peak_mb = pid, 0.0, 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
                self.cpu_s = (int(stat[11]) + int(stat[12])) / TICK
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_mb = int(line.split()[1]) / 1024
            except (OSError, IndexError):
                return
            time.sleep(0.1)


def library_floor_mb() -> float:
    """Peak RSS of a process that only imports the feature stack and runs one extract:
    the part of the daemon's memory that its own code does not decide."""
    code = ("import numpy as np; from ccser_core.features import FeatureConfig, extract; "
            "extract(np.zeros(32000, np.float32), 16000, FeatureConfig())")
    proc = subprocess.Popen([sys.executable, "-c", code])
    return os.wait4(proc.pid, 0)[2].ru_maxrss / 1024


def pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def first_windows(windows: list) -> list:
    """Each utterance's first window event (lowest seq)."""
    first: dict[int, object] = {}
    for e in sorted(windows, key=lambda e: e.seq):
        first.setdefault(e.utterance_id, e)
    return list(first.values())


def run(model: Path, wav: Path, realtime: bool) -> dict:
    address = free_address()
    collector = Collector(address, timeout_s=60)
    args = [sys.executable, "-m", "daemon.cli", "--model", str(model), "--source", str(wav),
            "--publish", address, "--wait-subscribers", "1", "--log-level", "WARNING"]
    proc = subprocess.Popen(args + ([] if realtime else ["--no-realtime"]),
                            stderr=subprocess.PIPE, text=True)
    monitor = ProcMonitor(proc.pid)
    received: dict[int, float] = {}
    cpu_at_start = wall_at_start = None
    while proc.poll() is None or len(received) < len(collector.events):
        for event in collector.events[len(received):]:
            received[event.seq] = time.time()  # polled every 1 ms: receipt within ~1 ms
            if event.type == "status" and event.state == "running" and cpu_at_start is None:
                cpu_at_start, wall_at_start = monitor.cpu_s, time.monotonic()
        if proc.poll() is not None and len(received) >= len(collector.events):
            break
        time.sleep(0.001)
    cpu_end, wall_end = monitor.cpu_s, time.monotonic()
    _, err = proc.communicate()
    events = collector.join()
    if proc.returncode != 0:
        raise SystemExit(f"ccserd failed ({proc.returncode}):\n{err}")
    final = events[-1]
    start = final.stream_start_time
    windows = [e for e in events if e.type == "emotion"]
    # Sliding windows are sent when their audio is complete; the last window of a
    # short utterance only once the hangover has closed it, so it is reported apart.
    sliding = [e for e in windows if e.t_end - e.t_start >= WINDOW_S - 1e-6]
    latency = np.array([received[e.seq] - (start + e.t_end) for e in sliding]) * 1000
    first = first_windows(sliding)
    first_latency = np.array([received[e.seq] - (start + e.t_end) for e in first]) * 1000
    rest_latency = np.array([received[e.seq] - (start + e.t_end) for e in sliding
                             if e not in first]) * 1000
    onsets = {e.utterance_id: e.t for e in events if e.type == "vad" and e.state == "start"}
    onset_to_first = [received[e.seq] - (start + onsets[e.utterance_id])
                      for e in first_windows(windows) if e.utterance_id in onsets]
    worst = sorted(zip(latency, sliding, strict=True), key=lambda p: -p[0])[:5]
    closing = [received[e.seq] - (start + e.t_end) for e in events
               if e.type == "utterance"]
    return {
        "sliding": len(sliding),
        "utterance_p50": 1000 * float(np.median(closing)) if closing else float("nan"),
        "audio_s": final.audio_s, "windows": len(windows),
        "utterances": sum(e.type == "utterance" for e in events),
        "dropped": final.dropped_windows + final.dropped_messages, "overflows": final.overflows,
        "latency_p50": float(np.percentile(latency, 50)) if len(latency) else float("nan"),
        "latency_p95": float(np.percentile(latency, 95)) if len(latency) else float("nan"),
        "latency_max": float(latency.max()) if len(latency) else float("nan"),
        "first_p95": pct(first_latency, 95), "first_max": pct(first_latency, 100),
        "rest_p95": pct(rest_latency, 95), "first_n": len(first_latency),
        "onset_p50": 1000 * pct(np.asarray(onset_to_first), 50),
        "onset_p95": 1000 * pct(np.asarray(onset_to_first), 95),
        "worst": [f"{ms:.0f} ms: utterance {e.utterance_id} window [{e.t_start:.2f}, "
                  f"{e.t_end:.2f}] s" for ms, e in worst],
        "cpu_pct": 100 * (cpu_end - cpu_at_start) / max(wall_end - wall_at_start, 1e-9),
        "wall_s": wall_end - wall_at_start, "peak_mb": monitor.peak_mb,
        "speed": final.audio_s / max(wall_end - wall_at_start, 1e-9),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=180.0,
                   help="audio to replay (enough windows for a stable p95)")
    p.add_argument("--model", type=Path, default=ROOT / "exported_models" / "default")
    p.add_argument("--print-only", action="store_true",
                   help="print the figures without updating RESULTS.md")
    args = p.parse_args()
    corpora = os.environ.get("CCSER_CORPORA")
    if not corpora:
        p.error("set CCSER_CORPORA to the folder holding ravdess/ and emodb/")
    with tempfile.TemporaryDirectory() as tmp:
        model, note = args.model, f"`{args.model.relative_to(ROOT)}`" \
            if args.model.is_relative_to(ROOT) else str(args.model)
        try:
            load_model(model)
        except ModelError as exc:  # absent, or stale while the feature code changes
            print(f"using a synthetic model: {exc}", file=sys.stderr)
            model = build_model(Path(tmp) / "model")
            note = f"synthetic test model ({args.model.name} did not load)"
        # A model with pretrained-encoder experts runs an encoder per window: own targets.
        encoder = any(e.block["kind"] == "embedding" for e in load_model(model).experts)
        wav = Path(tmp) / "replay.wav"
        total = replay_file(Path(corpora), args.seconds, wav)
        rt = run(model, wav, realtime=True)
        fast = run(model, wav, realtime=False)
    target = ({"p95": "<= 50 ms", "cpu": "<= 30 %", "rss": "<= 400 MB", "speed": ">= 20x"}
              if encoder else
              {"p95": "<= 30 ms", "cpu": "<= 15 %", "rss": "<= 200 MB", "speed": ">= 50x"})
    rows = [
        ("p95 latency, sliding-window end -> subscriber", f"{rt['latency_p95']:.1f} ms", target["p95"]),
        ("p50 / max latency", f"{rt['latency_p50']:.1f} / {rt['latency_max']:.1f} ms",
         "max <= 100 ms"),
        ("first sliding window of an utterance, p95 / max "
         f"({rt['first_n']} utterances)",
         f"{rt['first_p95']:.1f} / {rt['first_max']:.1f} ms", "<= 40 ms (p95)"),
        ("later sliding windows, p95", f"{rt['rest_p95']:.1f} ms", ""),
        ("speech onset (VAD start of a confirmed segment) -> its first emotion event, "
         "p50 / p95 (includes the window's own length when the utterance is longer)",
         f"{rt['onset_p50']:.0f} / {rt['onset_p95']:.0f} ms", ""),
        ("utterance event after speech end, p50 (includes 300 ms hangover)",
         f"{rt['utterance_p50']:.0f} ms", ""),
        ("CPU at real time", f"{rt['cpu_pct']:.1f} % of one core", target["cpu"]),
        ("peak RSS", f"{max(rt['peak_mb'], fast['peak_mb']):.0f} MB", target["rss"]),
        ("  of which `import` + one `extract` alone (numpy, scipy.fft, webrtcvad)",
         f"{library_floor_mb():.0f} MB", ""),
        ("speed with --no-realtime", f"{fast['speed']:.0f}x real time", target["speed"]),
        ("windows (sliding) / utterances / dropped / overflows",
         f"{rt['windows']} ({rt['sliding']}) / {rt['utterances']} / {rt['dropped']} / "
         f"{rt['overflows']}", ""),
    ]
    table = "| measure | result | target |\n| --- | --- | --- |\n" + "\n".join(
        f"| {a} | {b} | {c} |" for a, b, c in rows)
    body = (f"{total:.0f} s of corpus speech (emodb + ravdess utterances, 1 s gaps) replayed "
            f"through `ccserd --source` and received by `ccser_core.client.subscribe` over "
            f"loopback TCP; model: {note}; window 2.0 s, hop 0.5 s.\n\n{table}\n\n"
            f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end (the "
            "machine is shared, so latency and speed vary from run to run).\n\n"
            "Command: `CCSER_CORPORA=../shared/corpora python benchmarks/daemon_latency.py`.")
    print(body)
    print("slowest windows:\n  " + "\n  ".join(rt["worst"]))
    if not args.print_only:
        update_section("Daemon", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
