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

from ccser_core.audio import (
    AUDIO_SUFFIXES,
    MAX_DURATION_S,
    TooLongError,
    audio_files,
    display_path,
    load_audio,
)
from ccser_core.errors import CcserError
from ccser_core.model import default_model_dir, load_model
from ccser_core.recognise import recognise_session
from ccser_core.usage import Parser


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="ccser-predict", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE_OR_FOLDER",
                   help="audio files: WAV, FLAC, OGG (Vorbis, Opus), MP3 or AIFF, any rate, "
                        "mono or stereo; a folder stands for the audio files under it "
                        f"({', '.join('*' + s for s in AUDIO_SUFFIXES)}, recursively, sorted)")
    p.add_argument("--model", type=Path, default=default_model_dir(),
                   help="model folder with model.onnx + model.json (default %(default)s)")
    p.add_argument("--stream", action="store_true",
                   help="normalise each file with only the files before it (live behaviour)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--max-duration", type=_seconds, default=MAX_DURATION_S, metavar="SECONDS",
                   help="skip a file longer than this, before decoding it (default "
                        "%(default)g s). A file is analysed whole, one label per file, in "
                        "about 4 MB of memory per second of audio; `ccserd --source FILE "
                        "--no-realtime` labels a long recording utterance by utterance")
    return p


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = load_model(args.model)
    except CcserError as exc:
        print(f"ccser-predict: error: {exc}", file=sys.stderr)
        return 1
    cfg = model.feature_config
    paths, waveforms = [], []
    files, problems = audio_files(args.files)
    for problem in problems:
        print(f"ccser-predict: skipped: {problem}", file=sys.stderr)
    for path in files:
        try:
            waveforms.append(load_audio(path, cfg.sample_rate, args.max_duration))
            paths.append(path)
        except TooLongError as exc:
            print(f"ccser-predict: skipped: {exc} (--max-duration raises it)", file=sys.stderr)
        except CcserError as exc:
            print(f"ccser-predict: skipped: {exc}", file=sys.stderr)
    if not waveforms:
        print("ccser-predict: error: no readable audio file", file=sys.stderr)
        return 1
    results = recognise_session(model, waveforms, stream=args.stream)
    for path, r in zip(paths, results, strict=True):
        if args.json:
            print(json.dumps({"path": str(path), "speech": r.speech, "emotion": r.emotion,
                              "confidence": r.confidence, "probabilities": r.probabilities}))
        elif not r.speech:
            print(f"{display_path(path)}\tno speech")
        else:
            detail = "  ".join(f"{e} {v:.2f}" for e, v in r.probabilities.items())
            print(f"{display_path(path)}\t{r.emotion}\t{r.confidence:.2f}\t{detail}")
    return 0  # skipped files were reported; non-zero only when nothing was usable


if __name__ == "__main__":
    sys.exit(main())
