"""Generic corpus from a CSV with columns `path,emotion[,speaker]`.

Relative paths resolve against the CSV's folder; emotions may be aliases.
This is how users add any corpus without writing code.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ccser_core.corpora.base import Utterance
from ccser_core.emotions import canonical
from ccser_core.errors import CorpusError, EmotionError

LICENCE = "as given by the corpus owner (generic CSV corpus)"


def parse_csv(csv_path: Path, name: str) -> Iterator[Utterance | str]:
    if not csv_path.is_file():
        raise CorpusError(f"{name}: CSV file {csv_path} does not exist")
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip().lower() for c in (reader.fieldnames or [])]
        missing = [c for c in ("path", "emotion") if c not in columns]
        if missing:
            raise CorpusError(
                f"{csv_path}: missing column(s) {', '.join(missing)}; "
                f"expected header path,emotion[,speaker], got {','.join(columns) or 'nothing'}"
            )
        reader.fieldnames = columns
        has_speaker = "speaker" in columns
        unknown: list[str] = []
        for line, row in enumerate(reader, start=2):
            raw = (row.get("path") or "").strip()
            if not raw:
                yield f"{csv_path}:{line}: empty path"
                continue
            try:
                emotion = canonical(row.get("emotion") or "")
            except EmotionError:
                unknown.append(f"line {line}: {row.get('emotion')!r}")
                continue
            path = Path(raw) if Path(raw).is_absolute() else csv_path.parent / raw
            speaker = (row.get("speaker") or "").strip() if has_speaker else ""
            # No speaker column: the whole corpus is one session (one speaker group).
            yield Utterance(str(path), emotion, f"{name}:{speaker or 'all'}", name)
    if unknown:
        raise CorpusError(
            f"{csv_path}: unknown emotion(s) at {'; '.join(unknown[:5])}"
            f"{' ...' if len(unknown) > 5 else ''}; expected canonical names or aliases"
        )
