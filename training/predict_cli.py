"""`ccser-predict`: recognise the emotion of audio files with an exported model folder.

The files given together are treated as one session of one speaker: they
are normalised with the pooled statistics of all of them plus the model's
prior (the speaker-adaptive mode), or, with --stream, one after another as
the daemon would.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ccser_core.audio import load_audio
from ccser_core.errors import CcserError
from ccser_core.features import extract
from ccser_core.model import default_model_dir, load_model
from ccser_core.normalisation import SpeakerNormaliser, StreamingNormaliser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ccser-predict", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path, help="WAV or FLAC files (any rate, mono/stereo)")
    p.add_argument("--model", type=Path, default=default_model_dir(),
                   help="model folder with model.onnx + model.json (default %(default)s)")
    p.add_argument("--stream", action="store_true",
                   help="normalise each file with only the files before it (live behaviour)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = load_model(args.model)
    except CcserError as exc:
        print(f"ccser-predict: error: {exc}", file=sys.stderr)
        return 1
    cfg = model.feature_config
    paths, vectors = [], []
    for path in args.files:
        try:
            vectors.append(extract(load_audio(path, cfg.sample_rate), cfg.sample_rate, cfg))
            paths.append(path)
        except CcserError as exc:
            print(f"ccser-predict: skipped: {exc}", file=sys.stderr)
    if not vectors:
        print("ccser-predict: error: no readable audio file", file=sys.stderr)
        return 1
    X = np.vstack(vectors)
    prior = model.prior()
    if prior is not None and args.stream:
        stream = StreamingNormaliser(prior)
        X = np.vstack([stream.step(x) for x in X])
    elif prior is not None:
        X = SpeakerNormaliser(prior).transform(X, np.zeros(len(X)))
    proba = model.predict_proba(X)
    emotions = model.emotions
    for path, p in zip(paths, proba, strict=True):
        best = int(np.argmax(p))
        if args.json:
            print(json.dumps({"path": str(path), "emotion": emotions[best],
                              "confidence": float(p[best]),
                              "probabilities": dict(zip(emotions, map(float, p), strict=True))}))
        else:
            detail = "  ".join(f"{e} {v:.2f}" for e, v in zip(emotions, p, strict=True))
            print(f"{path}\t{emotions[best]}\t{p[best]:.2f}\t{detail}")
    return 0  # skipped files were reported; non-zero only when nothing was usable


if __name__ == "__main__":
    sys.exit(main())
