"""nEMO (Polish): labels in `data.tsv` (file_id, emotion, ..., speaker_id, gender, age),
audio in `samples/` named `{speaker}_{emotion}_{sentence}`.

The TSV is the label source. A row's file is found by its name without the
extension, so `.wav` rows match `.flac` files (and the other way round); rows
whose file is missing, with an unknown emotion or too few fields, and audio
files the TSV does not list, are problems, not errors. Speaker = speaker_id
(padded with spaces in the original), else the file name's prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ccser_core.corpora.base import Utterance, audio_files
from ccser_core.errors import CorpusError

EMOTIONS = {
    "anger": "angry", "fear": "fear", "happiness": "happy", "neutral": "neutral",
    "sadness": "sad", "surprised": "surprise",
}
LICENCE = "CC BY-NC-SA 4.0 (Christop 2024, nEMO, LREC-COLING 2024)"
LABELS = "data.tsv"
COLUMNS = ("file_id", "emotion", "speaker_id")
EXPECTED = "data.tsv with columns file_id, emotion, ..., speaker_id and samples/<SPK>_<emotion>_<n>.wav"


def labels_file(root: Path) -> Path:
    """`root/data.tsv`, else the one data.tsv under `root` (a copy nested one level deeper)."""
    direct = root / LABELS
    if direct.is_file():
        return direct
    found = sorted(p for p in root.rglob(LABELS) if p.is_file())
    if len(found) != 1:
        where = f"found {', '.join(map(str, found))}" if found else "found none"
        raise CorpusError(f"nemo: need one {LABELS} under {root} ({where}); expected {EXPECTED}")
    return found[0]


def _rows(tsv: Path) -> Iterator[tuple[int, list[str] | str]]:
    """(line number, [file_id, emotion, speaker_id]) of every non-empty data row, or
    (line number, what is wrong) for a row whose fields do not match the header.

    Text columns are never used, so a byte that is not UTF-8 is replaced rather
    than failing the row.
    """
    with tsv.open(encoding="utf-8-sig", errors="replace") as fh:
        header = [c.strip().lower() for c in fh.readline().rstrip("\n").split("\t")]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise CorpusError(
                f"{tsv}: missing column(s) {', '.join(missing)}; expected tab-separated "
                f"{', '.join(COLUMNS)} ..., got {', '.join(header) or 'nothing'}"
            )
        index = [header.index(c) for c in COLUMNS]
        for line, text in enumerate(fh, start=2):
            if not text.strip():
                continue
            fields = text.rstrip("\n").split("\t")
            yield line, ([fields[i].strip() for i in index] if len(fields) == len(header)
                             else f"{len(fields)} tab-separated fields, the header has {len(header)}")


def parse(root: Path) -> Iterator[Utterance | str]:
    files = audio_files(root, "nemo")
    tsv = labels_file(root)
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(path.stem, []).append(path)
    listed: set[str] = set()
    utterances: list[Utterance] = []
    for line, row in _rows(tsv):
        where = f"{tsv}:{line}"
        if isinstance(row, str) or not row[0] or not row[1]:
            yield f"{where}: malformed row ({row if isinstance(row, str) else 'empty file_id or emotion'})"
            continue
        file_id, label, speaker = row
        stem = PurePosixPath(file_id.replace("\\", "/")).stem
        if stem in listed:
            yield f"{where}: {file_id} is listed again"
            continue
        listed.add(stem)
        found = by_stem.get(stem, [])
        if len(found) != 1:
            detail = "not found" if not found else "ambiguous: " + ", ".join(map(str, found))
            yield f"{where}: audio for {file_id} {detail} under {root}"
            continue
        if label.lower() not in EMOTIONS:
            yield f"{where}: unknown nEMO emotion {label!r} (one of {', '.join(EMOTIONS)})"
            continue
        speaker = speaker or stem.split("_", 1)[0]
        utterances.append(Utterance(str(found[0]), EMOTIONS[label.lower()], f"nemo:{speaker}", "nemo"))
    for stem, paths in by_stem.items():
        if stem not in listed:
            yield from (f"{p}: not listed in {tsv}" for p in paths)
    yield from sorted(utterances, key=lambda u: u.path)
