"""Sliding windows over an utterance, and the sample buffer they are cut from (pure)."""

from __future__ import annotations

import numpy as np


class StreamBuffer:
    """Recent stream audio addressed by absolute sample index (0 = stream start).

    Keeps only what the current utterance or the pre-roll may still need, so
    memory stays bounded however long the daemon runs. Appends are amortised
    O(block): storage doubles when full and is compacted only when half unused.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.base = 0  # absolute index of the first kept sample
        self._store = np.zeros(capacity, dtype=np.float32)
        self._head = 0  # position of `base` in _store
        self._size = 0

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample."""
        return self.base + self._size

    def append(self, samples: np.ndarray) -> None:
        n = len(samples)
        if self._head + self._size + n > len(self._store):
            capacity = len(self._store)
            while self._size + n > capacity // 2:
                capacity *= 2
            store = np.zeros(capacity, dtype=np.float32)
            store[: self._size] = self._store[self._head : self._head + self._size]
            self._store, self._head = store, 0
        tail = self._head + self._size
        self._store[tail : tail + n] = samples
        self._size += n

    def slice(self, start: int, stop: int) -> np.ndarray:
        """Copy of samples [start, stop); IndexError if they were discarded or not yet seen."""
        if start < self.base or stop > self.end or start > stop:
            raise IndexError(f"samples [{start}, {stop}) not in buffer [{self.base}, {self.end})")
        offset = self._head - self.base
        return self._store[start + offset : stop + offset].copy()

    def discard_before(self, index: int) -> None:
        cut = min(max(index - self.base, 0), self._size)
        self._head += cut
        self._size -= cut
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
