"""Rebuild exported_models/default: trained on all five shared corpora (RAVDESS, EmoDB,
SAVEE, CASIA, nEMO; four languages) with DEFAULT_FLAGS: the session-robust logistic
regression over the hand-crafted features and the Whisper base encoder's expert, mixed by
session evidence (README: "Adaptation that never hurts"). Chosen among the variants of
benchmarks/encoder_ablation.py by the same leave-one-corpus-out.

    CCSER_CORPORA=../shared/corpora python benchmarks/build_default_model.py [--emotions AHNS]

The pooled model has no held-out corpus, so the figures that justify it are
measured with the very same flags: leave-one-corpus-out over the five (`--loco`,
in the card under metrics.loco, with every session kind), and both single-corpus
directions RAVDESS->EmoDB and EmoDB->RAVDESS (metrics.cross_corpus).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from ccser_core.files import atomic_write
from training.cli import build_parser, config_from_args
from training.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
CORPORA = "ravdess,emodb,savee,casia,nemo"
DEFAULT_FLAGS = "--models logreg,whisper-base --fuse --jobs 2"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emotions", default="AHNS")
    p.add_argument("--output", type=Path, default=ROOT / "exported_models" / "default")
    p.add_argument("--flags", default=DEFAULT_FLAGS,
                   help="ccser-train flags of the model (default: %(default)s)")
    args = p.parse_args()
    if not os.environ.get("CCSER_CORPORA"):
        p.error("set CCSER_CORPORA to the folder holding ravdess/, emodb/, savee/, casia/ and "
                "nemo/")
    common = ["--emotions", args.emotions, "--quiet", "--seed", "0", *shlex.split(args.flags)]
    figures = {}
    for train, test in (("ravdess", "emodb"), ("emodb", "ravdess")):
        argv = ["--train", train, "--test", test, "--no-export", *common]
        report = run(config_from_args(build_parser().parse_args(argv)))
        block = report["results"][test]
        figures[f"{train}->{test}"] = {
            "uar": block["uar"], "uar_streaming": block["uar_streaming"],
            "accuracy": block["accuracy"], "uar_ci95": block["uar_ci95"],
            "sessions": {k: v["uar"] for k, v in block["sessions"].items() if k != "worst"},
            "n_test": block["n_test"], "chance_uar": block["chance_uar"],
            "command": "ccser-train " + " ".join(shlex.quote(a) for a in argv),
        }
        print(f"{train}->{test}: UAR {block['uar']:.3f}, streaming {block['uar_streaming']:.3f}, "
              f"worst session kind {block['sessions']['worst']['uar']:.3f}")
    argv = ["--train", CORPORA, "--loco", "--output", str(args.output),
            *common]
    report = run(config_from_args(build_parser().parse_args(argv)))
    card_path = args.output / "model.json"
    card = json.loads(card_path.read_text())
    card["model_id"] = f"default-{card['model_id'].rsplit('-', 1)[-1]}"
    card["metrics"]["within_corpus"] = {k: report["within_corpus"][k]
                                        for k in ("cv", "folds", "uar", "accuracy")}
    card["metrics"]["cross_corpus"] = figures
    card["build_command"] = ("CCSER_CORPORA=../shared/corpora python "
                             "benchmarks/build_default_model.py " + " ".join(sys.argv[1:]))
    atomic_write(card_path, (json.dumps(card, indent=1) + "\n").encode())
    print(f"wrote {args.output} (pooled speaker-grouped CV UAR {report['best_cv_uar']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
