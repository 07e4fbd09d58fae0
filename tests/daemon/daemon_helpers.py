"""Helpers for daemon tests: a small real model folder, generated speech-like audio,
and running ccserd as a subprocess while collecting its events with the real client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ccser_core.client import subscribe
from ccser_core.events import Event
from ccser_core.features import FeatureConfig, feature_names, fingerprint
from ccser_core.model import write_model_folder
from ccser_core.normalisation import fit_prior

SR = 16000
EMOTIONS = ["angry", "happy", "neutral", "sad"]


def build_model(folder: Path, emotions: list[str] = EMOTIONS, seed: int = 0) -> Path:
    """Fit StandardScaler + LogisticRegression on synthetic vectors; export as a model folder."""
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    config = FeatureConfig()
    n = len(feature_names(config))
    rng = np.random.default_rng(seed)
    y = np.arange(200) % len(emotions)
    X = (rng.normal(size=(200, n)) + y[:, None] * 0.3).astype(np.float32)
    groups = np.arange(200) % 5
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))])
    pipe.fit(X, y)
    onx = to_onnx(pipe, X[:1], options={id(pipe): {"zipmap": False}}, target_opset=17)
    card = {
        "schema_version": 1, "model_id": f"test-{seed}", "emotions": emotions,
        "feature_config": config.to_dict(), "feature_fingerprint": fingerprint(config),
        "n_features": n, "sample_rate": SR,
        "normalisation": {"method": "speaker",
                          "prior": fit_prior(X, groups, weight=5.0).to_dict()},
        "ccser_version": "test",
    }
    write_model_folder(folder, onx.SerializeToString(), card)
    return folder


def speech_like(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """Voiced-speech stand-in: harmonic complex with gliding f0, formant-like tilt and
    4 Hz syllable-rate amplitude modulation (WebRTC VAD calls it speech)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) + rng.uniform(-20, 20)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = sum(np.sin(k * phase) / k for k in range(1, 25))
    am = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6))
    y = y * am + 0.01 * rng.normal(size=t.size)
    return (level * y / np.max(np.abs(y))).astype(np.float32)


def silence(seconds: float, seed: int = 1) -> np.ndarray:
    return (1e-4 * np.random.default_rng(seed).normal(size=int(seconds * SR))).astype(np.float32)


def write_wav(path: Path, *parts: np.ndarray, sr: int = SR) -> Path:
    sf.write(str(path), np.concatenate(parts), sr, subtype="PCM_16")
    return path


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def ccserd(*args: str, stdin: Any = None, env_extra: dict[str, str] | None = None,
           umask: int = -1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, "-m", "daemon.cli", *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            umask=umask)


def wait_running(proc: subprocess.Popen, timeout: float = 30.0) -> str:
    """Read ccserd's stderr until it logs that it is running; returns what it logged."""
    seen: list[str] = []
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stderr:
            seen.append(line)
            if "ccserd running" in line:
                return "".join(seen)
    finally:
        timer.cancel()
    raise AssertionError("ccserd ended before running:\n" + "".join(seen))


class Collector:
    """Subscribes on a thread (before the daemon starts) and keeps every event."""

    def __init__(self, address: str, timeout_s: float = 20.0, **subscribe_args: Any) -> None:
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(address, timeout_s),
                                        kwargs=subscribe_args, daemon=True)
        self._thread.start()

    def _run(self, address: str, timeout_s: float, **subscribe_args: Any) -> None:
        try:
            for event in subscribe(address, timeout_s=timeout_s, **subscribe_args):
                self.events.append(event)
                if event.type == "status" and event.state == "stopping":
                    return
        except BaseException as exc:  # re-raised in the test thread by join()
            self.error = exc

    def join(self, timeout: float = 60.0) -> list[Event]:
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.events


def run_file(model: Path, wav: Path | str, *extra: str, timeout: float = 90.0,
             env_extra: dict[str, str] | None = None) -> tuple[
        list[Event], subprocess.CompletedProcess]:
    """Replay `wav` through ccserd --no-realtime and return all events and the process."""
    address = free_address()
    collector = Collector(address)
    proc = ccserd("--model", str(model), "--source", str(wav), "--no-realtime",
                  "--publish", address, "--wait-subscribers", "1", "--wait-timeout", "20",
                  *extra, env_extra=env_extra)
    out, err = proc.communicate(timeout=timeout)
    events = collector.join()
    return events, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
