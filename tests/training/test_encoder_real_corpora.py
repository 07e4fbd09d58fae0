"""The default's configuration on real speech (skipped without $CCSER_CORPORA): trained
on four corpora (RAVDESS, SAVEE, CASIA, nEMO: English, Mandarin, Polish), a German EmoDB
speaker it never heard, angry throughout and then sad throughout, keeps the label
through `ccser-predict --stream` and `ccserd` — the sustained session that per-speaker
statistics alone absorb. One cold run (a few minutes): features and embeddings are
extracted into a fresh cache, as CI would."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_helpers import run_file, silence, write_wav  # noqa: E402

from ccser_core.audio import load_audio  # noqa: E402
from ccser_core.events import UtteranceEvent  # noqa: E402
from ccser_core.model import load_model  # noqa: E402

pytestmark = [pytest.mark.corpora, pytest.mark.slow]
BIN = Path(sys.executable).parent
SPEAKER = "03"  # EmoDB: male; 14 angry (W), 7 sad (T) files
LETTER = {"angry": "W", "sad": "T"}


@pytest.fixture(scope="module")
def fused(corpora_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("fused") / "model"
    proc = subprocess.run(
        [str(BIN / "ccser-train"), "--train", "ravdess,savee,casia,nemo", "--emotions", "AHNS",
         "--models", "logreg,whisper-base", "--fuse", "--corpus-dir", str(corpora_dir),
         "--cache-dir", str(out.parent / "cache"), "--output", str(out), "--jobs", "2",
         "--quiet"], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return out


def files(corpora_dir: Path, emotion: str) -> list[Path]:
    return sorted((corpora_dir / "emodb" / "wav").glob(f"{SPEAKER}*{LETTER[emotion]}?.flac"))


@pytest.mark.parametrize("emotion", ["angry", "sad"])
def test_sustained_unseen_speaker_keeps_its_label(fused, corpora_dir, tmp_path, emotion):
    paths = files(corpora_dir, emotion)
    assert len(paths) >= 6
    model = load_model(fused)
    assert {e.block["kind"] for e in model.experts} == {"features", "embedding"}
    proc = subprocess.run([str(BIN / "ccser-predict"), "--model", str(fused), "--stream",
                           *map(str, paths)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    labels = [line.split("\t")[1] for line in proc.stdout.splitlines() if "\t" in line]
    assert len(labels) == len(paths) and labels.count(emotion) >= 0.7 * len(paths), labels
    parts = [silence(0.5)]
    for p in paths:
        parts += [load_audio(p), silence(0.9, seed=len(parts))]
    events, daemon = run_file(fused, write_wav(tmp_path / "session.wav", *parts), timeout=300)
    assert daemon.returncode == 0, daemon.stderr
    live = [e.emotion for e in events if isinstance(e, UtteranceEvent)]
    assert len(live) >= len(paths) - 1, daemon.stderr
    assert live.count(emotion) >= 0.7 * len(live), live
