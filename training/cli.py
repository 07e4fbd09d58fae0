"""`ccser-train`: train on one or more corpora, evaluate cross-corpus, export to ONNX."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path

from ccser_core.emotions import listed_emotions, parse_emotions
from ccser_core.errors import CcserError
from ccser_core.features import FRAME_GROUPS, STATS, UTTERANCE_GROUPS, FeatureConfig
from ccser_core.files import atomic_write
from ccser_core.usage import Parser
from ccser_core.vad import VadConfig
from training.augment import AUGMENTATIONS
from training.cache import default_cache_dir
from training.config import (
    DEFAULT_EMOTIONS,
    DEFAULT_MODELS,
    DEFAULT_NORM,
    DEFAULT_NORM_SCOPE,
    DEFAULT_PRIOR_WEIGHT,
    DEFAULT_ROBUST_WEIGHT,
    TrainConfig,
)
from training.data import NORM_SCOPES, NORMS
from training.models import ALL_MODELS, RNN, parse_models
from training.search import CV_KINDS, SearchSettings
from training.table import results_table

EPILOG = """examples:
  ccser-train --train ravdess --test emodb
  ccser-train --train ravdess --test emodb --emotions angry,sad --report as.json
  ccser-train --train ravdess,emodb --test savee --emotions HNS --models svc,rf,mlp
  ccser-train --train ravdess,emodb,savee,casia --loco        # leave-one-corpus-out table
  ccser-train --train mine --corpus mine=/data/mine/labels.csv --cv speaker

Corpora live in --corpus-dir (default $CCSER_CORPORA) as ravdess/, emodb/, savee/, casia/,
nemo/ (nEMO, Polish: data.tsv + samples/); RAVDESS and nEMO are CC BY-NC-SA 4.0,
the others research use; the model card names each training corpus's licence;
--corpus NAME=PATH points one corpus anywhere; a .csv PATH is a generic corpus
with columns path,emotion[,speaker] (paths relative to the CSV's folder).
Emotion presets are initials: A angry, H happy, N neutral, S sad, P surprise,
F fear, D disgust, C calm, B boredom (e.g. AS, HNS, AHNS, AHNPS)."""


def _names(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return names


def _corpus_path(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name.strip().lower(), Path(path.strip()).expanduser()


def build_parser() -> argparse.ArgumentParser:
    d = FeatureConfig()
    p = Parser(
        prog="ccser-train", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--train", type=_names, required=True, metavar="A[,B...]",
                   help="training corpora (pooled)")
    g.add_argument("--test", type=_names, default=(), metavar="C[,D...]",
                   help="test corpora, each reported separately; omit for within-corpus CV only")
    g.add_argument("--loco", action="store_true",
                   help="also leave-one-corpus-out: for each --train corpus, train on the others "
                        "and test on it (report['loco'], LOCO table); needs two or more")
    g.add_argument("--corpus-dir", type=Path, default=os.environ.get("CCSER_CORPORA"),
                   help="folder holding ravdess/, emodb/, savee/, casia/, nemo/ ... (default $CCSER_CORPORA)")
    g.add_argument("--corpus", type=_corpus_path, action="append", default=[],
                   metavar="NAME=PATH", help="corpus location or generic CSV (repeatable)")
    g.add_argument("--emotions", default=DEFAULT_EMOTIONS,
                   help=f"comma list or preset (default {DEFAULT_EMOTIONS})")
    g.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                   help="metadata and feature cache (default %(default)s)")
    f = p.add_argument_group("features")
    f.add_argument("--features", type=_names, default=d.groups,
                   help=f"feature groups from {', '.join(FRAME_GROUPS + UTTERANCE_GROUPS)} "
                        f"(default {','.join(d.groups)})")
    f.add_argument("--stats", type=_names, default=d.stats,
                   help=f"frame summaries from {', '.join(STATS)}; 'mean' alone = frame means "
                        f"(default {','.join(d.stats)})")
    f.add_argument("--n-mfcc", type=int, default=d.n_mfcc, help="MFCCs (default %(default)s)")
    f.add_argument("--n-mels", type=int, default=d.n_mels, help="mel bands (default %(default)s)")
    f.add_argument("--no-vad-trim", action="store_true", help="keep silence (no WebRTC VAD trim)")
    f.add_argument("--vad-aggressiveness", type=int, default=d.vad.aggressiveness,
                   choices=range(4), help="WebRTC VAD aggressiveness (default %(default)s)")
    n = p.add_argument_group("normalisation")
    n.add_argument("--norm", choices=NORMS, default=DEFAULT_NORM,
                   help="speaker: z-score each speaker by its own statistics (live: running "
                        "session statistics); corpus: per corpus; train: one scaler fitted on the "
                        "training data (the naive baseline) (default %(default)s)")
    n.add_argument("--norm-scope", choices=NORM_SCOPES, default=DEFAULT_NORM_SCOPE,
                   help="files whose statistics normalise a speaker: the chosen-emotion files "
                        "or all of the speaker's files (default %(default)s)")
    n.add_argument("--robust-weight", type=float, default=DEFAULT_ROBUST_WEIGHT, metavar="W",
                   help="weight (0-1) of the session-robust expert, which reads the prosody "
                        "features relative to the prior and is trained on simulated sessions, so "
                        "a sustained emotion is not normalised away; 0 = the session-normalised "
                        "model alone (default %(default)s)")
    n.add_argument("--prior-weight", type=float, default=DEFAULT_PRIOR_WEIGHT,
                   help="weight, in files, of the stored prior for unseen speakers "
                        "(default %(default)s)")
    m = p.add_argument_group("models")
    m.add_argument("--models", default=DEFAULT_MODELS,
                   help=f"any of {', '.join(ALL_MODELS)} (default {DEFAULT_MODELS}); "
                        "the best by speaker-grouped CV UAR on the training data is exported; "
                        "rnn, a recurrent network over frame features, needs PyTorch "
                        "(pip install 'ccser[deep]') and is scored on held-out speakers")
    m.add_argument("--fuse", action="store_true",
                   help="the model is all --models together (late fusion), instead of the best "
                        "by CV: probabilities averaged, or, when session-normalised models (logreg, "
                        "svc, ...) meet pretrained-encoder ones (whisper-base, whisper-tiny.en), "
                        "mixed per utterance by session evidence (README: adaptation that never "
                        "hurts); one model folder of several ONNX graphs")
    m.add_argument("--cv", choices=CV_KINDS, default="speaker",
                   help="within-corpus evaluation scheme when --test is omitted (default %(default)s)")
    m.add_argument("--folds", type=int, default=5, help="CV folds (default %(default)s)")
    m.add_argument("--balance", choices=("weights", "oversample", "none"), default="weights",
                   help="class balancing (default %(default)s)")
    m.add_argument("--select-k", type=int, default=0, metavar="K",
                   help="keep the K best features by mutual information (default: all)")
    m.add_argument("--pca", type=int, default=0, metavar="N", help="PCA components (default: off)")
    m.add_argument("--augment", type=_names, default=(),
                   help=f"training-only augmentation: any of {', '.join(AUGMENTATIONS)}")
    o = p.add_argument_group("output")
    o.add_argument("--output", type=Path, help="model folder (default exported_models/<train>_<EMO>)")
    o.add_argument("--no-export", action="store_true", help="evaluate only, write no model")
    o.add_argument("--report", type=Path, metavar="FILE.json", help="write the full report here")
    o.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel jobs")
    o.add_argument("--seed", type=int, default=0, help="seed for shuffling, bootstrap, streaming")
    o.add_argument("--quiet", action="store_true",
                   help="no progress bars or progress messages; warnings (e.g. which files were "
                        "unreadable), errors and the table remain. Progress bars are only ever "
                        "drawn on a terminal")
    o.add_argument("--dask", metavar="ADDRESS",
                   help="run feature extraction and grid-search fits on a Dask cluster "
                        "(e.g. tcp://sched:8786; needs pip install 'ccser[dask]'). Workers read "
                        "audio by path: corpora must be at the same path on every worker; the "
                        "feature cache stays on this machine; --jobs is then ignored")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    for aug in args.augment:
        if aug not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {aug!r}; choose from {', '.join(AUGMENTATIONS)}")
    if args.report is not None and args.report.is_dir():  # checked before the run replaces a model
        raise ValueError(f"--report {args.report} is a folder; give a file, e.g. "
                         f"{args.report / 'report.json'}")
    if not 0.0 <= args.robust_weight <= 1.0:
        raise ValueError(f"--robust-weight must be between 0 and 1, got {args.robust_weight}")
    if args.loco and len(args.train) < 2:
        raise ValueError("--loco needs at least two --train corpora (train on the others, "
                         "test on each)")
    for name, value in (("--folds", args.folds), ("--jobs", args.jobs)):
        if value < 1 or (name == "--folds" and value < 2):
            raise ValueError(f"{name} must be at least {2 if name == '--folds' else 1}")
    models = parse_models(args.models)
    if RNN in models and importlib.util.find_spec("torch") is None:
        raise ValueError("--models rnn needs PyTorch; a CPU build is enough: pip install torch "
                         "--index-url https://download.pytorch.org/whl/cpu (plain "
                         "pip install 'ccser[deep]' may fetch a multi-GB CUDA build)")
    features = FeatureConfig(
        groups=args.features, stats=args.stats, n_mfcc=args.n_mfcc, n_mels=args.n_mels,
        vad_trim=not args.no_vad_trim,
        vad=VadConfig(aggressiveness=args.vad_aggressiveness))
    return TrainConfig(
        train=args.train, test=args.test, emotions=parse_emotions(args.emotions),
        emotion_order=listed_emotions(args.emotions),
        corpus_dir=Path(args.corpus_dir) if args.corpus_dir else None,
        corpus_paths=tuple(args.corpus), features=features, norm=args.norm,
        norm_scope=args.norm_scope, prior_weight=args.prior_weight,
        robust_weight=args.robust_weight, loco=args.loco,
        models=models, fuse=args.fuse, cv=args.cv,
        search=SearchSettings(balance=args.balance, select_k=args.select_k, pca=args.pca,
                              folds=args.folds, jobs=args.jobs, seed=args.seed),
        augment=args.augment, output=args.output, export=not args.no_export,
        report=args.report, cache_dir=args.cache_dir,
        quiet=args.quiet or not sys.stderr.isatty(), dask=args.dask)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="ccser-train: %(levelname)s: %(message)s", stream=sys.stderr)
    try:
        cfg = config_from_args(args)
    except (ValueError, CcserError) as exc:
        parser.error(str(exc))
    from training.export import interrupted, model_folder_id
    from training.pipeline import run  # heavy imports only once the arguments are valid

    before = model_folder_id(cfg)

    try:
        report = run(cfg)
    except (CcserError, OSError) as exc:  # OSError: e.g. an unwritable cache or output folder
        print(f"ccser-train: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ccser-train: interrupted; {interrupted(cfg, before)}", file=sys.stderr)
        return 130
    print(results_table(report))
    if cfg.report:
        try:
            atomic_write(cfg.report, (json.dumps(report, indent=1) + "\n").encode())
        except OSError as exc:
            print(f"ccser-train: error: cannot write report {cfg.report} ({exc.strerror or exc})",
                  file=sys.stderr)
            return 1
        print(f"report: {cfg.report}")
    if "export" in report:
        print(f"model: {report['export']['output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
