"""Ablations of the default model: each front end alone, the encoders fused without the
session expert, and the full evidence-weighted model, leave-one-corpus-out over the five
shared corpora (AHNS), every session kind.

    CCSER_CORPORA=../shared/corpora python benchmarks/encoder_ablation.py [--no-write]

An absolute model (encoders only) scores the same in every kind of session, so its
cells are its adaptive UAR. Writes the "Encoder ablations" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import machine, update_section  # noqa: E402

from training.cli import build_parser, config_from_args  # noqa: E402
from training.pipeline import run  # noqa: E402

CORPORA = "ravdess,emodb,savee,casia,nemo"
VARIANTS = {
    "hand-crafted, session-robust (previous default)": "--models logreg",
    "whisper-base alone (layer 3)": "--models whisper-base",
    "whisper-tiny.en alone (layer 2)": "--models whisper-tiny.en",
    "both encoders, no session expert": "--models whisper-base,whisper-tiny.en --fuse",
    "hand-crafted + whisper-base, evidence-weighted":
        "--models logreg,whisper-base --fuse",
    "all three, evidence-weighted": "--models logreg,whisper-base,whisper-tiny.en --fuse",
}


def row(block: dict) -> tuple[float, float, float]:
    """(balanced, worst kind, adaptive) of a LOCO block."""
    s = block.get("sessions")
    if not s:
        return block["uar"], block["uar"], block["uar"]
    return s["balanced"]["uar"], s["worst"]["uar"], block["uar"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    if not os.environ.get("CCSER_CORPORA"):
        p.error("set CCSER_CORPORA to the folder holding the five corpora")
    names = CORPORA.split(",")
    lines = ["| model | " + " | ".join(names) + " | mean | training s |",
             "|---" * (len(names) + 3) + "|"]
    for label, flags in VARIANTS.items():
        argv = ["--train", CORPORA, "--loco", "--no-export", "--emotions", "AHNS", "--quiet",
                "--jobs", str(args.jobs), *flags.split()]
        t0 = time.perf_counter()
        report = run(config_from_args(build_parser().parse_args(argv)))
        seconds = time.perf_counter() - t0
        cells = [row(report["loco"][c]) for c in names]
        mean = np.mean(cells, axis=0)
        lines.append(f"| {label} | " + " | ".join(f"{b:.3f} / {w:.3f}" for b, w, _ in cells)
                     + f" | {mean[0]:.3f} / {mean[1]:.3f} | {seconds:.0f} |")
        print(lines[-1], flush=True)
    body = ("Leave-one-corpus-out over the five corpora (AHNS; train on the other four). Each "
            "cell: UAR in balanced sessions / in the worst kind of session (live rule). "
            "Encoder embeddings were cached before (benchmarks/encoder_layers.py, the "
            "default's build), so the training time is fitting and evaluation.\n\n"
            + "\n".join(lines)
            + f"\n\nMachine: {machine()}; load average {os.getloadavg()[0]:.1f}.\n\n"
            "Command: `CCSER_CORPORA=../shared/corpora python benchmarks/encoder_ablation.py`.")
    print(body)
    if not args.no_write:
        update_section("Encoder ablations", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
