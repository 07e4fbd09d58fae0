"""Capture: the microphone path with a fake sounddevice stream (in-process daemon),
device loss and recovery, overflow counting, resampling continuity."""

from __future__ import annotations

import threading
import time
import types

import numpy as np
import pytest
import sounddevice as sd
from daemon_helpers import SR, Collector, silence, speech_like

from ccser_core.model import load_model
from daemon.capture import Block, BlockQueue, MicSource, StreamResampler
from daemon.config import DaemonConfig
from daemon.devices import DeviceError, resolve_device
from daemon.publisher import Publisher
from daemon.service import Daemon

MIC_RATE = 48000
FAKE_DEVICES = [
    {"name": "Speakers", "max_input_channels": 0, "default_samplerate": 48000.0},
    {"name": "Fake USB Mic", "max_input_channels": 1, "default_samplerate": 48000.0},
]


def mic_audio() -> np.ndarray:
    import librosa

    y = np.concatenate([silence(0.5), speech_like(2.5), silence(1.5), speech_like(1.2, seed=4),
                        silence(1.0)])
    return librosa.resample(y, orig_sr=SR, target_sr=MIC_RATE).astype(np.float32)


class FakeStream:
    """Stands in for sounddevice.InputStream: calls the callback from a thread, faster
    than real time. `plan` says, per opening, how many blocks to deliver before the
    device 'disappears' (None: all), "fail" to refuse to open, or ("stall", n) to
    go silent after n blocks while still claiming to be active."""

    plan: list = []
    audio = np.zeros(0, dtype=np.float32)
    opened = 0

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback):
        step = FakeStream.plan[FakeStream.opened] if FakeStream.opened < len(self.plan) else None
        FakeStream.opened += 1
        if step == "fail":
            raise sd.PortAudioError("Device unavailable")
        assert (device, samplerate, channels, dtype) == (1, MIC_RATE, 1, "float32")
        self.stall = isinstance(step, tuple)
        self.blocksize, self.callback = blocksize, callback
        self.limit = step[1] if self.stall else step
        self.active = False
        self._thread = threading.Thread(target=self._feed, daemon=True)

    def _feed(self) -> None:
        n = self.blocksize
        for i in range(len(self.audio) // n):
            if not self.active or (self.limit is not None and i >= self.limit):
                break
            self.callback(self.audio[i * n:(i + 1) * n, None], n, None, None)
            time.sleep(0.0005)
        self.active = self.stall and self.active

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        pass


@pytest.fixture
def fake_sd(monkeypatch):
    monkeypatch.setattr(sd, "query_devices", lambda: FAKE_DEVICES)
    monkeypatch.setattr(sd, "InputStream", FakeStream)
    FakeStream.audio, FakeStream.opened, FakeStream.plan = mic_audio(), 0, []
    return FakeStream


def run_daemon(model_dir, tmp_path, until, timeout=60.0):
    """Run an in-process daemon on the fake mic until `until(events)` holds."""
    address = f"ipc://{tmp_path}/ccserd.sock"
    config = DaemonConfig(model=model_dir, device="usb mic", publish=address,
                          status_interval=0.2)
    source = MicSource(config.device, None, config.block_ms)
    publisher = Publisher(address, config.hwm)
    collector = Collector(address)
    assert publisher.wait_for_subscribers(1, 10)
    stop = threading.Event()
    result = {}
    daemon = Daemon(config, load_model(model_dir), source, publisher)
    thread = threading.Thread(target=lambda: result.update(code=daemon.run(stop)))
    thread.start()
    deadline = time.monotonic() + timeout
    while not until(collector.events) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    publisher.close()
    return collector.join(), result.get("code")


def utterances(events):
    return [e for e in events if e.type == "utterance"]


def test_microphone_path(fake_sd, model_dir, tmp_path):
    events, code = run_daemon(model_dir, tmp_path, lambda ev: len(utterances(ev)) >= 2)
    assert code == 0
    got = utterances(events)
    assert len(got) == 2
    assert abs(got[0].t_start - 0.5) < 0.25 and abs(got[1].t_start - 4.5) < 0.3
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[-1].state == "stopping" and events[-1].input.startswith("device 1")


def test_device_lost_then_restored(fake_sd, model_dir, tmp_path):
    fake_sd.plan = [100, "fail"]  # 1 s of audio, then gone; first reopen fails
    events, code = run_daemon(model_dir, tmp_path, lambda ev: len(utterances(ev)) >= 2)
    assert code == 0
    states = [(e.state, e.message) for e in events if e.type == "status"]
    lost = [i for i, (s, _) in enumerate(states) if s == "device_lost"]
    restored = [i for i, (_, m) in enumerate(states) if m == "device restored"]
    assert lost and restored and lost[0] < restored[0]
    assert fake_sd.opened == 3
    assert len(utterances(events)) >= 2


def test_device_lookup(fake_sd):
    assert resolve_device("usb")[0] == 1
    assert resolve_device("1")[0] == 1
    with pytest.raises(DeviceError, match="(?s)input device 0 does not exist.*Fake USB Mic"):
        resolve_device("0")
    with pytest.raises(DeviceError, match="'webcam' does not exist"):
        resolve_device("webcam")


def test_callback_only_copies_and_counts_overflows(fake_sd):
    source = MicSource("usb", None, 10)
    queue = BlockQueue(maxsize=2)
    source._out = queue

    class Status:
        input_overflow = True

    block = np.ones((480, 1), dtype=np.float32)
    for _ in range(3):
        source._callback(block, 480, None, None)
    source._callback(block, 480, None, Status())
    assert queue.overflows == 3  # two dropped for a full queue, one reported by the device
    got = queue.get(0.1)
    assert isinstance(got, Block) and got.samples.shape == (480,)
    block[:] = 0
    assert got.samples[0] == 1  # a copy, not PortAudio's buffer


def test_stream_resampler_is_continuous():
    y = speech_like(1.0)
    import librosa

    y48 = librosa.resample(y, orig_sr=SR, target_sr=MIC_RATE)
    resampler = StreamResampler(MIC_RATE)
    parts = [resampler(y48[i:i + 480]) for i in range(0, len(y48), 480)]
    out = np.concatenate(parts + [resampler(np.zeros(0, np.float32), last=True)])
    assert abs(len(out) - len(y)) <= 2
    np.testing.assert_allclose(out[1000:-1000], y[1000:len(out) - 1000], atol=2e-2)


def test_no_input_device_at_all(monkeypatch):
    monkeypatch.setattr(sd, "query_devices", lambda: FAKE_DEVICES[:1])
    monkeypatch.setattr(sd, "default", types.SimpleNamespace(device=(-1, -1)))
    with pytest.raises(DeviceError, match="(?s)no input device found.*no input devices found"):
        resolve_device(None)


def test_list_devices_cli(fake_sd, capsys):
    from daemon.cli import main

    assert main(["--list-devices"]) == 0
    assert "1: Fake USB Mic (1 ch, 48000 Hz)" in capsys.readouterr().out


def test_stalled_device_counts_as_lost(fake_sd, model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(MicSource, "stall_s", 0.3)
    fake_sd.plan = [("stall", 100)]
    events, code = run_daemon(model_dir, tmp_path, lambda ev: len(utterances(ev)) >= 2)
    assert code == 0
    lost = [e.message for e in events if e.type == "status" and e.state == "device_lost"]
    assert lost and "no audio for" in lost[0]
    assert fake_sd.opened == 2 and len(utterances(events)) >= 2
