"""Helpers for dashboard tests: daemon-like events, a ZeroMQ publisher, and the app
served by a real uvicorn on a free loopback port (SSE needs a real server)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from ccser_core.events import EmotionEvent, StatusEvent, UtteranceEvent, VadEvent

PROBS = {"neutral": 0.1, "happy": 0.2, "sad": 0.1, "angry": 0.6}


def status(seq: int, state: str = "running", source: str = "mic", **kw: Any) -> dict[str, Any]:
    fields = dict(seq=seq, time=time.time(), state=state, uptime_s=1.0, audio_s=1.0, overflows=0,
                  dropped_windows=0, dropped_messages=0, queue_depth=0, windows=0, utterances=0,
                  model_id="m", source=source)
    return StatusEvent(**{**fields, **kw}).to_dict()


def emotion(seq: int, utterance_id: int = 0, t_end: float = 2.0, **kw: Any) -> dict[str, Any]:
    return EmotionEvent(seq=seq, time=time.time(), t_start=t_end - 2.0, t_end=t_end,
                        utterance_id=utterance_id, emotion="angry", confidence=0.6,
                        probabilities=PROBS, model_id="m", **kw).to_dict()


def utterance(seq: int, utterance_id: int = 0) -> dict[str, Any]:
    return UtteranceEvent(seq=seq, time=time.time(), t_start=0.5, t_end=2.5,
                          utterance_id=utterance_id, emotion="angry", confidence=0.6,
                          probabilities=PROBS, model_id="m", n_windows=1).to_dict()


def vad(seq: int, state: str, t: float, utterance_id: int = 0) -> dict[str, Any]:
    return VadEvent(seq=seq, time=time.time(), state=state, t=t,
                    utterance_id=utterance_id).to_dict()


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

    from training.dashboard.routes import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host=cfg.host, port=cfg.port,
                                           log_level="warning", timeout_graceful_shutdown=1))
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
