"""A sustained single-emotion session of a speaker the model never saw keeps its label
through `ccser-predict --stream` (the live rule): 12 files in a row, one emotion."""

from __future__ import annotations

import json
from pathlib import Path

from training import predict_cli


def labels(model: Path, files: list[Path], capsys) -> list[str]:
    assert predict_cli.main([*map(str, files), "--model", str(model), "--stream", "--json"]) == 0
    return [json.loads(line)["emotion"] for line in capsys.readouterr().out.splitlines()]


def test_sustained_sessions_keep_their_label(sustained_sessions, capsys):
    model, unseen = sustained_sessions
    for emotion, files in unseen.items():
        got = labels(model, files, capsys)
        assert got.count(emotion) >= 11, (emotion, got)

