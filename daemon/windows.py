"""Sliding windows over an utterance, and the sample buffer they are cut from (pure)."""

from __future__ import annotations

import numpy as np


class StreamBuffer:
    """Recent stream audio addressed by absolute sample index (0 = stream start).

    Keeps only what the current utterance or the pre-roll may still need, so
    memory stays bounded however long the daemon runs.
    """

    def __init__(self) -> None:
        self.base = 0  # absolute index of self._data[0]
        self._data = np.zeros(0, dtype=np.float32)

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample."""
        return self.base + len(self._data)

    def append(self, samples: np.ndarray) -> None:
        self._data = np.concatenate([self._data, np.asarray(samples, dtype=np.float32)])

    def slice(self, start: int, stop: int) -> np.ndarray:
        """Copy of samples [start, stop); IndexError if they were discarded or not yet seen."""
        if start < self.base or stop > self.end or start > stop:
            raise IndexError(f"samples [{start}, {stop}) not in buffer [{self.base}, {self.end})")
        return self._data[start - self.base : stop - self.base].copy()

    def discard_before(self, index: int) -> None:
        cut = min(max(index - self.base, 0), len(self._data))
        if cut:
            self._data = self._data[cut:]
            self.base += cut


class WindowPlanner:
    """Window spans of `length` samples every `hop` samples from an utterance's start.

    `due(available)` returns the spans whose audio has fully arrived; each
    span is returned once, as soon as possible (its end is its latency origin).
    """

    def __init__(self, start: int, length: int, hop: int) -> None:
        if length <= 0 or hop <= 0:
            raise ValueError(f"window length {length} and hop {hop} must be > 0 samples")
        self.length, self.hop = length, hop
        self.next_start = start
        self.count = 0

    def due(self, available: int) -> list[tuple[int, int]]:
        spans = []
        while self.next_start + self.length <= available:
            spans.append((self.next_start, self.next_start + self.length))
            self.next_start += self.hop
        self.count += len(spans)
        return spans
