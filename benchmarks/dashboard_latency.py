"""ccser-dashboard: how late live events reach a browser, and how long recognition takes.

Runs the real app (uvicorn, loopback) subscribed to a local ZeroMQ publisher that
sends daemon-like emotion events at --rate per second, reads them back over the
Server-Sent Events stream like a browser, and reports publication -> browser
delay. Then posts --files synthetic 2-second recordings as one session to
/api/recognise with the default model and reports the time per request.

    python benchmarks/dashboard_latency.py [--events 400] [--rate 20] [--files 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def event(seq: int) -> bytes:
    return json.dumps({
        "schema_version": 1, "type": "emotion", "seq": seq, "time": time.time(), "t_start": 0.0,
        "t_end": 2.0, "utterance_id": 0, "emotion": "sad", "confidence": 0.7,
        "probabilities": {"sad": 0.7, "angry": 0.3}, "model_id": "bench"}).encode()


def speech(seconds: float, f0: float, seed: int) -> np.ndarray:
    sr, rng = 16000, np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 15)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    return (0.3 * y / np.abs(y).max() + 0.005 * rng.normal(size=t.size)).astype(np.float32)


@contextlib.contextmanager
def dashboard(cfg):
    import uvicorn

    from training.dashboard.routes import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host=cfg.host, port=cfg.port,
                                           log_level="error", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://{cfg.host}:{cfg.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=400)
    p.add_argument("--rate", type=float, default=20.0, help="events per second")
    p.add_argument("--files", type=int, default=10, help="recordings per recognition request")
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import httpx
    import soundfile as sf
    import zmq

    from ccser_core.model import default_model_dir
    from training.dashboard.config import DashboardConfig

    zport = free_port()
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.bind(f"tcp://127.0.0.1:{zport}")
    cfg = DashboardConfig(connect=f"tcp://127.0.0.1:{zport}", port=free_port(),
                          default_model=default_model_dir(),
                          models_dirs=(Path(tempfile.mkdtemp(prefix="ccser-bench-")),))
    delays: list[float] = []
    with dashboard(cfg) as url, httpx.stream("GET", url + "/api/events", timeout=30) as r:
        lines = r.iter_lines()

        def read() -> None:
            for line in lines:
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg["type"] == "event":
                        delays.append(time.time() - msg["event"]["time"])
                        if len(delays) >= args.events:
                            return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(1.0)  # ZeroMQ's slow joiner
        for seq in range(args.events):
            pub.send_multipart([b"emotion", event(seq)])
            time.sleep(1 / args.rate)
        reader.join(10)

        files = []
        for i in range(args.files):
            buf = io.BytesIO()
            sf.write(buf, speech(2.0, 110 + 12 * i, i), 16000, format="WAV", subtype="PCM_16")
            files.append(("files", (f"f{i}.wav", buf.getvalue())))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            res = httpx.post(url + "/api/recognise", files=files, timeout=120,
                             headers={"X-Ccser-Dashboard": "1"})
            times.append(time.perf_counter() - t0)
            assert res.status_code == 200, res.text
    pub.close()
    d = np.asarray(delays) * 1000
    print(f"events relayed: {len(d)}/{args.events} at {args.rate:g}/s; publication -> SSE reader "
          f"p50 {np.percentile(d, 50):.1f} ms, p95 {np.percentile(d, 95):.1f} ms, "
          f"max {d.max():.1f} ms")
    print(f"recognise {args.files} x 2 s recordings (one session, default model): "
          f"best {min(times):.2f} s, median {sorted(times)[1]:.2f} s per request "
          f"({min(times) / args.files * 1000:.0f} ms per file)")
    return 0 if len(d) == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
