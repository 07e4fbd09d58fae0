"""Utterance boundaries from per-frame VAD decisions, with start and end hangover.

Pure and frame-based: the loop feeds one WebRTC VAD decision per frame and
gets back `Boundary` events; nothing here knows about samples or time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmenterConfig:
    """All counts in VAD frames.

    start_frames: consecutive voiced frames that open an utterance (rejects clicks);
    end_frames: consecutive unvoiced frames that close it (hangover over short pauses);
    pad_frames: frames kept before the opening run and after the last voiced frame;
    max_frames: utterances are split at this length, so each gets a prediction.
    """

    start_frames: int = 3
    end_frames: int = 10
    pad_frames: int = 3
    max_frames: int = 666

    def __post_init__(self) -> None:
        if min(self.start_frames, self.end_frames) < 1 or self.pad_frames < 0:
            raise ValueError("start_frames and end_frames must be >= 1, pad_frames >= 0")
        if self.max_frames <= self.start_frames:
            raise ValueError("max_frames must exceed start_frames")


@dataclass(frozen=True)
class Boundary:
    """kind "start": `frame` is the utterance's first frame; "end": one past its last."""

    kind: str
    frame: int


class Segmenter:
    """Streaming state machine: silence <-> speech, fed one frame decision at a time."""

    def __init__(self, config: SegmenterConfig = SegmenterConfig()) -> None:
        self.config = config
        self.frame = 0  # frames seen so far
        self.in_speech = False
        self._run = 0  # voiced run (in silence) or unvoiced run (in speech)
        self._start = 0
        self._last_voiced = -1
        self._floor = 0  # utterances never overlap the previous one

    def push(self, voiced: bool) -> list[Boundary]:
        cfg, i = self.config, self.frame
        self.frame += 1
        if not self.in_speech:
            self._run = self._run + 1 if voiced else 0
            if self._run < cfg.start_frames:
                return []
            first = i - self._run + 1
            return [self._open(max(first - cfg.pad_frames, self._floor), i)]
        if voiced:
            self._last_voiced, self._run = i, 0
        else:
            self._run += 1
        if self._run >= cfg.end_frames:
            return [self._close(min(self._last_voiced + 1 + cfg.pad_frames, i + 1))]
        if i + 1 - self._start >= cfg.max_frames:
            out = [self._close(i + 1)]
            return out + [self._open(i + 1, i)] if voiced else out
        return []

    def flush(self) -> list[Boundary]:
        """End of stream: close an open utterance at the audio seen so far."""
        if not self.in_speech:
            return []
        return [self._close(min(self._last_voiced + 1 + self.config.pad_frames, self.frame))]

    def _open(self, start: int, last_voiced: int) -> Boundary:
        self.in_speech, self._run = True, 0
        self._start, self._last_voiced = start, last_voiced
        return Boundary("start", start)

    def _close(self, end: int) -> Boundary:
        self.in_speech, self._run, self._floor = False, 0, end
        return Boundary("end", end)


def segments(flags: list[bool], config: SegmenterConfig = SegmenterConfig()) -> list[
        tuple[int, int]]:
    """Offline helper: (start, end) frame pairs of all utterances in a flag sequence."""
    seg = Segmenter(config)
    events = [b for f in flags for b in seg.push(bool(f))] + seg.flush()
    starts = [b.frame for b in events if b.kind == "start"]
    ends = [b.frame for b in events if b.kind == "end"]
    return list(zip(starts, ends, strict=True))
