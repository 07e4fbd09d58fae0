"""The corpus record every parser produces, and the listing helpers they share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ccser_core.errors import CorpusError

AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass(frozen=True)
class Utterance:
    """One labelled audio file of a corpus."""

    path: str
    emotion: str
    speaker: str
    corpus: str


@dataclass(frozen=True)
class CorpusListing:
    """What a parser found: usable utterances and one message per rejected file."""

    name: str
    utterances: tuple[Utterance, ...]
    problems: tuple[str, ...] = field(default=())

    def emotions(self) -> tuple[str, ...]:
        return tuple(sorted({u.emotion for u in self.utterances}))


def audio_files(root: Path, corpus: str) -> list[Path]:
    """All WAV/FLAC files under `root`, sorted; a clear error if there are none."""
    if not root.is_dir():
        raise CorpusError(f"{corpus}: corpus folder {root} does not exist or is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise CorpusError(f"{corpus}: no .wav or .flac files under {root}")
    return files


def make_listing(
    name: str, parsed: Iterable[Utterance | str]
) -> CorpusListing:
    """Split a parser's output into utterances and problem messages."""
    utts: list[Utterance] = []
    problems: list[str] = []
    for item in parsed:
        (problems if isinstance(item, str) else utts).append(item)
    if not utts:
        detail = f" (first problem: {problems[0]})" if problems else ""
        raise CorpusError(f"{name}: no usable files{detail}")
    return CorpusListing(name, tuple(utts), tuple(problems))
