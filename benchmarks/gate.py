"""The no-speech gate: false alarms on generated non-speech, misses on corpus speech.

    CCSER_CORPORA=../shared/corpora python benchmarks/gate.py [--per-kind 30]

A false alarm is a non-speech clip the gate passes (it would get an emotion); a miss
is a corpus file it refuses (it would get none). Prints both and rewrites the
"No-speech gate" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import machine, update_section  # noqa: E402

from ccser_core.audio import load_audio  # noqa: E402
from ccser_core.corpora import list_corpus  # noqa: E402
from ccser_core.features import FeatureConfig  # noqa: E402
from ccser_core.gate import GateConfig, is_speech  # noqa: E402

SR = 16000
CORPORA = ("ravdess", "emodb", "savee", "casia")


def _norm(x: np.ndarray, peak: float) -> np.ndarray:
    return (peak * x / max(np.abs(x).max(), 1e-12)).astype(np.float32)


def _coloured(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=float)
    f[0] = 1.0
    return np.fft.irfft(spec / f ** (exponent / 2), n)


def _hum(rng: np.random.Generator, n: int) -> np.ndarray:
    f, t = rng.choice([50.0, 60.0]), np.arange(n) / SR
    return _norm(sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 9)),
                 rng.uniform(0.05, 0.9))


def generators() -> dict[str, Callable[[np.random.Generator], np.ndarray]]:
    """Non-speech clips, 1-6 s, random level (and frequency) per draw."""
    def secs(rng: np.random.Generator) -> int:
        return int(rng.uniform(1, 6) * SR)

    def t(n: int) -> np.ndarray:
        return np.arange(n) / SR

    return {
        "digital silence": lambda r: np.zeros(secs(r), np.float32),
        "white noise": lambda r: _norm(r.standard_normal(secs(r)), r.uniform(0.01, 0.9)),
        "pink noise": lambda r: _norm(_coloured(r, secs(r), 1.0), r.uniform(0.01, 0.9)),
        "brown noise": lambda r: _norm(_coloured(r, secs(r), 2.0), r.uniform(0.01, 0.9)),
        "clipped white noise": lambda r: np.clip(3 * r.standard_normal(secs(r)), -1, 1).astype(
            np.float32),
        "clipped brown noise": lambda r: np.clip(_norm(_coloured(r, secs(r), 2.0), 4), -1, 1),
        "tone 80-1000 Hz": lambda r: _norm(np.sin(2 * np.pi * r.uniform(80, 1000) * t(secs(r))),
                                           r.uniform(0.05, 0.9)),
        "mains hum 50/60 Hz + harmonics": lambda r: _hum(r, secs(r)),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-kind", type=int, default=30, help="random clips per non-speech kind")
    p.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = p.parse_args()
    corpora = os.environ.get("CCSER_CORPORA")
    if not corpora:
        p.error("set CCSER_CORPORA to the folder holding the four corpora")
    cfg, gate = FeatureConfig(), GateConfig()
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    lines = ["| non-speech kind | clips | passed as speech (false alarms) |", "|---|---|---|"]
    alarms = total = 0
    for name, make in generators().items():
        hits = sum(is_speech(make(rng), SR, cfg, gate) for _ in range(args.per_kind))
        alarms, total = alarms + hits, total + args.per_kind
        lines.append(f"| {name} | {args.per_kind} | {hits} ({hits / args.per_kind:.1%}) |")
    lines.append(f"| **all** | {total} | **{alarms} ({alarms / total:.1%})** |")
    lines += ["", "| corpus | files | refused as no speech (misses) | examples |", "|---|---|---|---|"]
    missed_all = files_all = 0
    for corpus in CORPORA:
        utts = list_corpus(corpus, Path(corpora) / corpus).utterances
        missed = [u.path for u in tqdm(utts, desc=corpus, unit="file")
                  if not is_speech(load_audio(u.path, SR), SR, cfg, gate)]
        missed_all, files_all = missed_all + len(missed), files_all + len(utts)
        lines.append(f"| {corpus} | {len(utts)} | {len(missed)} ({len(missed) / len(utts):.2%}) | "
                     + ", ".join(Path(m).name for m in missed[:3]) + " |")
    lines.append(f"| **all** | {files_all} | **{missed_all} ({missed_all / files_all:.2%})** | |")
    body = "\n".join([
        f"Machine: {machine()}. Run time {time.perf_counter() - start:.0f} s.",
        "",
        "Command: `CCSER_CORPORA=../shared/corpora python benchmarks/gate.py`. The gate "
        f"(`ccser_core/gate.py`, thresholds {gate.to_dict()}) runs on whole files as "
        "`ccser-predict` does; ccserd applies it to each VAD segment before opening an "
        "utterance.", "", *lines])
    print(body)
    if not args.no_write:
        update_section("No-speech gate", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
