"""Audio sources: microphone, file and stdin, all feeding one bounded block queue.

Sources only move samples: the sounddevice callback copies a block into the
queue and returns, so nothing the daemon does can make the device overflow.
Resampling, VAD and inference happen on the daemon's own threads.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ccser_core.audio import WORKING_RATE, decode, open_audio, pcm16_to_float, to_mono
from ccser_core.errors import AudioError
from daemon.devices import DeviceError, describe_devices, resolve_device

#: Queue item marking the end of a finite source.
END = None


@dataclass(frozen=True)
class Block:
    """Mono float32 samples at the source's rate, and the wall time they were captured."""

    samples: np.ndarray
    captured: float


class BlockQueue:
    """Bounded queue between a source and the loop; counts blocks it had to drop."""

    def __init__(self, maxsize: int) -> None:
        self._q: queue.Queue[Block | None] = queue.Queue(maxsize)
        self.overflows = 0  # blocks lost: queue full, or the device reported an overrun

    def offer(self, item: Block | None) -> None:
        """Never blocks (for live sources): a full queue drops the block, counted."""
        try:
            self._q.put_nowait(item)
        except queue.Full:
            self.overflows += 1

    def put(self, item: Block | None, stop: threading.Event) -> bool:
        """Blocks until there is room (lossless sources); False if stopped meanwhile."""
        while not stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self, timeout: float) -> Block | None:
        """Raises queue.Empty after `timeout` seconds."""
        return self._q.get(timeout=timeout)

    def qsize(self) -> int:
        return self._q.qsize()


class StreamResampler:
    """Continuous resampling of consecutive blocks (soxr stream, as `audio.resample` uses)."""

    def __init__(self, in_rate: int, out_rate: int = WORKING_RATE) -> None:
        self.in_rate, self.out_rate = in_rate, out_rate
        self._stream = None
        if in_rate != out_rate:
            import soxr

            self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32",
                                               quality="HQ")

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self._stream is None:
            return x
        return self._stream.resample_chunk(x, last=last)


class _ThreadSource:
    """A finite source read on its own thread; lossless ones block instead of dropping."""

    def __init__(self, name: str, rate: int, lossless: bool) -> None:
        self.name, self.rate, self.lossless = name, rate, lossless
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self, out: BlockQueue) -> None:
        self._thread = threading.Thread(target=self._run_safe, args=(out,), daemon=True,
                                        name=f"source-{self.name}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def health(self) -> str | None:
        return None

    def _emit(self, out: BlockQueue, item: Block | None) -> bool:
        if self.lossless:
            return out.put(item, self._stop)
        out.offer(item)
        return not self._stop.is_set()

    def _run_safe(self, out: BlockQueue) -> None:
        try:
            self._run(out)
        except (OSError, RuntimeError, ValueError) as exc:
            self.error = f"{self.name}: read failed ({exc})"
        self._emit(out, END)

    def _run(self, out: BlockQueue) -> None:
        raise NotImplementedError


class FileSource(_ThreadSource):
    """Replays an audio file in blocks, in real time or as fast as possible."""

    def __init__(self, path: Path, block_ms: int, realtime: bool) -> None:
        # The offline loader's rules: the whole file is decoded once up front, so a
        # truncated file or a NaN sample is refused before anything is published.
        self._file = open_audio(path)
        try:
            decode(self._file, path, keep=False)
        except AudioError:
            self._file.close()
            raise
        super().__init__(str(path), self._file.samplerate, lossless=not realtime)
        self.realtime = realtime
        self.block = max(1, self.rate * block_ms // 1000)

    def _run(self, out: BlockQueue) -> None:
        t0, sent = time.monotonic(), 0
        with self._file as fh:
            for data in fh.blocks(blocksize=self.block, dtype="float32", always_2d=True):
                sent += len(data)
                if self.realtime:
                    delay = t0 + sent / self.rate - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
                if not self._emit(out, Block(to_mono(data), time.time())):
                    return


class StdinSource(_ThreadSource):
    """Raw little-endian 16-bit mono PCM from a pipe (e.g. `arecord -f S16_LE`)."""

    def __init__(self, rate: int, block_ms: int, realtime: bool,
                 stream: BinaryIO | None = None) -> None:
        super().__init__("stdin", rate, lossless=not realtime)
        self._stream = stream if stream is not None else sys.stdin.buffer
        self.block_bytes = 2 * max(1, rate * block_ms // 1000)

    def _run(self, out: BlockQueue) -> None:
        pending = b""
        while not self._stop.is_set():
            chunk = self._stream.read(self.block_bytes - len(pending))
            if not chunk:
                return
            pending += chunk
            if len(pending) < self.block_bytes:
                continue
            if not self._emit(out, Block(pcm16_to_float(pending), time.time())):
                return
            pending = b""


class MicSource:
    """sounddevice InputStream; the callback only copies into the queue."""

    lossless = False
    #: Seconds without a callback after which a running stream counts as lost
    #: (some host APIs keep a stream "active" when the device disappears).
    stall_s = 2.0

    def __init__(self, device: str | None, rate: int | None, block_ms: int) -> None:
        self.index, info = resolve_device(device)
        self.name = f"device {self.index} ({info['name']})"
        self.rate = int(rate or info["default_samplerate"])
        self.blocksize = max(1, self.rate * block_ms // 1000)
        self._stream = None
        self._out: BlockQueue | None = None
        self._last = 0.0
        self.error: str | None = None

    def _callback(self, indata: np.ndarray, frames: int, time_info: object,
                  status: object) -> None:
        assert self._out is not None
        if status and getattr(status, "input_overflow", False):
            self._out.overflows += 1
        self._last = time.monotonic()
        self._out.offer(Block(indata[:, 0].copy(), time.time()))

    def start(self, out: BlockQueue) -> None:
        """Opens the device; DeviceError (listing the devices) if it cannot."""
        import sounddevice as sd

        self._out = out
        self._last = time.monotonic()
        try:
            self._stream = sd.InputStream(device=self.index, samplerate=self.rate, channels=1,
                                          dtype="float32", blocksize=self.blocksize,
                                          callback=self._callback)
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stream = None
            raise DeviceError(f"{self.name}: cannot open input at {self.rate} Hz ({exc}); "
                              f"available input devices:\n{describe_devices()}") from exc

    def health(self) -> str | None:
        """None while audio flows; else why the stream stopped (device lost)."""
        if self._stream is None:
            return None
        if not self._stream.active:
            return f"{self.name}: input stream stopped"
        if time.monotonic() - self._last > self.stall_s:
            return f"{self.name}: no audio for {self.stall_s:.0f} s"
        return None

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # a lost device may fail to close; it is gone either way
                pass
