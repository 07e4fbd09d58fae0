"""The no-speech gate never holds a window back: while a VAD segment waits for the gate,
each window that falls due is judged on its own audio at once (published if it holds
speech, dropped if not), so no window is released late in a batch at confirmation.

Judged by stream time: the daemon is fed block by block in-process and every window
job is checked against how much audio had arrived when it was submitted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from daemon_helpers import SR, silence, speech_like

from ccser_core.events import VadEvent
from ccser_core.model import load_model
from daemon.capture import Block
from daemon.config import DaemonConfig
from daemon.inference import Job
from daemon.service import Daemon


def flat_voice(seconds: float, f0: float = 150.0, level: float = 0.3) -> np.ndarray:
    """Voiced and syllable-modulated (WebRTC VAD calls it speech) but pitch-flat, so the
    gate cannot confirm it: a sung or hummed note, a held vowel."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 25))
    y = y * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))
    return (level * y / np.max(np.abs(y))).astype(np.float32)


@dataclass
class FakeSource:
    name: str = "test"
    rate: int = SR
    lossless: bool = True


@dataclass
class RecordingPublisher:
    events: list = field(default_factory=list)
    address: str = "inproc://test"
    clients: int = 0
    dropped: int = 0

    def publish(self, make):
        event = make(len(self.events), 0.0)
        self.events.append(event)
        return event

    def poll(self, timeout_ms: int = 0) -> int:
        return 0


def replay(model_dir: Path, audio: np.ndarray, block_s: float = 0.02):
    """Feed `audio` through Daemon.process; returns (daemon, [(job, samples arrived)])."""
    config = DaemonConfig(model=model_dir)
    daemon = Daemon(config, load_model(model_dir), FakeSource(), RecordingPublisher())
    submitted: list[tuple[Job, int]] = []
    daemon.worker.submit = lambda job: submitted.append((job, daemon.buffer.end))
    n = int(block_s * SR)
    for i in range(0, len(audio), n):
        daemon.process(Block(audio[i:i + n], 0.0))
    daemon.finish_stream()
    return daemon, submitted


def test_window_after_unconfirmable_voicing_is_published_within_one_hop(model_dir):
    lead, held = 1.0, 2.5
    audio = np.concatenate([silence(lead), flat_voice(held), speech_like(3.0, seed=3),
                            silence(1.0)])
    daemon, submitted = replay(model_dir, audio)
    hop = round(daemon.config.hop * SR)
    windows = [(job, arrived) for job, arrived in submitted if job.kind == "window"]
    assert windows, "the speech after the held note got no window"
    # Every window is decided by the time it is due: none waits for the gate.
    late = [(job.end / SR, arrived / SR) for job, arrived in windows if arrived - job.end > hop]
    assert not late, f"windows (end s, submitted at s) held back by the gate: {late}"
    # The windows that are only the held note were judged on their own audio and dropped.
    assert daemon.rejected_windows >= 1
    assert all(job.end / SR > lead + held for job, _ in windows)
    # A window the gate judged hands its pitch track on to the features.
    gated = [job for job, _ in windows if job.pitch is not None]
    assert all(len(job.pitch[0]) >= (job.end - job.start) // 160 - 2 for job in gated)
    starts = [e for e in daemon.pub.events if isinstance(e, VadEvent) and e.state == "start"]
    assert len(starts) == 1 and [j.kind for j, _ in submitted].count("utterance") == 1


def test_clear_speech_windows_are_all_published(model_dir):
    daemon, submitted = replay(model_dir, np.concatenate(
        [silence(0.5), speech_like(4.0, seed=4), silence(1.0)]))
    windows = [job for job, _ in submitted if job.kind == "window"]
    # 4 s of speech, 2 s windows every 0.5 s: 5 sliding windows, none dropped.
    assert len(windows) >= 5 and daemon.rejected_windows == 0


def test_held_note_alone_publishes_nothing(model_dir):
    daemon, submitted = replay(model_dir, np.concatenate(
        [silence(0.5), flat_voice(4.0), silence(1.0)]))
    assert not submitted
    assert not [e for e in daemon.pub.events if isinstance(e, VadEvent)]
    assert daemon.rejected_segments == 1 and daemon.rejected_windows >= 4
