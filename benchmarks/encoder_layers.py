"""Which Whisper encoder layer pays for emotion: LOCO on a subsample, chosen nested.

    CCSER_CORPORA=../shared/corpora python benchmarks/encoder_layers.py [--per-corpus 160]

For each packaged encoder and each of its layers, pooled embeddings (mean + std
over frames) of a class- and speaker-stratified AHNS subsample of every corpus;
then leave-one-corpus-out with the probe's classifier (z-score by the training
pool, logistic regression C 0.01, class-balanced: no adaptation at all). The
layer reported per held-out corpus is chosen by LOCO among the *training*
corpora only (nested), so the held-out corpus never picks it. Also prints the
per-layer UAR table, the encode cost (ms of one core per second of audio) and
writes the "Encoder layers" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import machine, update_section  # noqa: E402

from ccser_core.audio import load_audio  # noqa: E402
from ccser_core.corpora import PARSERS, list_corpus  # noqa: E402
from ccser_core.emotions import parse_emotions  # noqa: E402
from ccser_core.encoders.whisper import BUNDLES, ct2_file, encoder_files, load_encoder  # noqa: E402


def subsample(corpora: Path, per_corpus: int, emotions: tuple[str, ...]) -> list:
    """Up to `per_corpus` files per corpus, round-robin over (emotion, speaker)."""
    rng = np.random.default_rng(0)
    out = []
    for name in PARSERS:
        if not (corpora / name).is_dir():
            continue
        utts = [u for u in list_corpus(name, corpora / name).utterances if u.emotion in emotions]
        cells: dict[tuple[str, str], list] = {}
        for u in utts:
            cells.setdefault((u.emotion, u.speaker), []).append(u)
        for cell in cells.values():
            rng.shuffle(cell)
        picked, i = [], 0
        while len(picked) < per_corpus and any(len(c) > i for c in cells.values()):
            picked += [c[i] for c in cells.values() if len(c) > i]
            i += 1
        out += picked[:per_corpus]
    return out


def embed_all(name: str, layer: int, paths: list[str]) -> tuple[np.ndarray, float]:
    enc = load_encoder(name, layer)
    audio = [load_audio(p) for p in paths]
    t = time.process_time()
    X = np.vstack([enc.embed(y, 16000) for y in audio])
    seconds = sum(len(y) for y in audio) / 16000
    return X, 1000 * (time.process_time() - t) / seconds


def loco(X: np.ndarray, y: np.ndarray, corpus: np.ndarray, held: str) -> float:
    train = corpus != held
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, class_weight="balanced",
                                                             max_iter=2000))
    clf.fit(X[train], y[train])
    return balanced_accuracy_score(y[~train], clf.predict(X[~train]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-corpus", type=int, default=160)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    corpora = os.environ.get("CCSER_CORPORA")
    if not corpora:
        p.error("set CCSER_CORPORA to the folder holding the corpora")
    utts = subsample(Path(corpora), args.per_corpus, parse_emotions("AHNS"))
    y = np.array([u.emotion for u in utts])
    corpus = np.array([u.corpus for u in utts])
    names = sorted(set(corpus), key=list(PARSERS).index)
    jobs = [(n, k) for n in BUNDLES
            for k in range(1, ct2_file.layer_counts(encoder_files(n)[0])["encoder"] + 1)]
    print(f"{len(utts)} files, {len(jobs)} (encoder, layer) pairs", file=sys.stderr)
    results = Parallel(n_jobs=args.jobs)(
        delayed(embed_all)(n, k, [u.path for u in utts]) for n, k in jobs)
    feats = {job: X for job, (X, _) in zip(jobs, results, strict=True)}
    cost = {job: c for job, (_, c) in zip(jobs, results, strict=True)}
    uar = {job: {h: loco(feats[job], y, corpus, h) for h in names} for job in jobs}
    lines = ["| encoder | layer | " + " | ".join(names) + " | mean | ms / s of audio |",
             "|---" * (len(names) + 4) + "|"]
    for job in jobs:
        row = [uar[job][h] for h in names]
        lines.append(f"| {job[0]} | {job[1]} | " + " | ".join(f"{v:.3f}" for v in row)
                     + f" | {np.mean(row):.3f} | {cost[job]:.1f} |")
    nested = ["| encoder | " + " | ".join(f"{h} (layer)" for h in names) + " |",
              "|---" * (len(names) + 1) + "|"]
    for enc in BUNDLES:
        cells = []
        for h in names:
            inner = [c for c in names if c != h]
            layers = [job for job in jobs if job[0] == enc]
            best = max(layers, key=lambda job: np.mean(
                [loco(feats[job][corpus != h], y[corpus != h], corpus[corpus != h], c)
                 for c in inner]))
            cells.append(f"{uar[best][h]:.3f} ({best[1]})")
        nested.append(f"| {enc} | " + " | ".join(cells) + " |")
    body = (f"AHNS, {len(utts)} files ({args.per_corpus} per corpus, stratified by emotion and "
            "speaker); LOCO, z-score by the training pool + logistic regression (C 0.01, "
            "balanced), no adaptation. Embedding: mean + std over frames of the layer's output "
            "(then Whisper's final layer norm).\n\nPer layer (UAR of the held-out corpus):\n\n"
            + "\n".join(lines) + "\n\nLayer chosen by LOCO among the training corpora only "
            "(nested), UAR on the held-out corpus:\n\n" + "\n".join(nested)
            + f"\n\nMachine: {machine()}; load average {os.getloadavg()[0]:.1f}.\n\n"
            "Command: `CCSER_CORPORA=../shared/corpora python benchmarks/encoder_layers.py`.")
    print(body)
    update_section("Encoder layers", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
