"""Helpers for dashboard tests: daemon-like events, a ZeroMQ publisher, and the app
served by a real uvicorn on a free loopback port (SSE needs a real server)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

PROBS = {"neutral": 0.1, "happy": 0.2, "sad": 0.1, "angry": 0.6}


# Events as a version-1 ccserd publishes them (every ccser reads version 1); `named`
# turns one into version 2, where `source` names the daemon and status has `input`.
def status(seq: int, state: str = "running", input: str = "mic", **kw: Any) -> dict[str, Any]:
    return {"schema_version": 1, "type": "status", "seq": seq, "time": time.time(),
            "state": state, "uptime_s": 1.0, "audio_s": 1.0, "overflows": 0,
            "dropped_windows": 0, "dropped_messages": 0, "queue_depth": 0, "windows": 0,
            "utterances": 0, "model_id": "m", "source": input, **kw}


def emotion(seq: int, utterance_id: int = 0, t_end: float = 2.0, kind: str = "emotion",
            ) -> dict[str, Any]:
    return {"schema_version": 1, "type": kind, "seq": seq, "time": time.time(),
            "t_start": t_end - 2.0, "t_end": t_end, "utterance_id": utterance_id,
            "emotion": "angry", "confidence": 0.6, "probabilities": PROBS, "model_id": "m",
            **({"n_windows": 1} if kind == "utterance" else {})}


def utterance(seq: int, utterance_id: int = 0) -> dict[str, Any]:
    return emotion(seq, utterance_id, kind="utterance")


def vad(seq: int, state: str, t: float, utterance_id: int = 0) -> dict[str, Any]:
    return {"schema_version": 1, "type": "vad", "seq": seq, "time": time.time(), "state": state,
            "t": t, "utterance_id": utterance_id}


def named(event: dict[str, Any], source: str) -> dict[str, Any]:
    out = {**event, "schema_version": 2, "source": source}
    if event["type"] == "status":
        out["input"] = event["source"]
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def publisher(port: int) -> Iterator[Any]:
    """A bound ZeroMQ PUB socket; send with `pub.send_multipart([topic, json])`."""
    import zmq

    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(f"tcp://127.0.0.1:{port}")
    try:
        yield sock
    finally:
        sock.close()


@contextlib.contextmanager
def serve(cfg: Any) -> Iterator[str]:
    """Run the dashboard for `cfg` (its port) in a thread; yields the base URL."""
    import uvicorn

    from training.dashboard.server import uvicorn_config

    server = uvicorn.Server(uvicorn_config(cfg))  # the CLI's limits and timeouts
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.05)
    try:
        yield f"http://{cfg.host}:{cfg.port}"
    finally:
        server.should_exit = True
        thread.join(15)
