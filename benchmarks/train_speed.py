"""Extraction and training speed, cold (empty cache) and warm (cached features).

    CCSER_CORPORA=../shared/corpora python benchmarks/train_speed.py

Targets (2 cores): extraction >= 30 files/s for the default features
(RAVDESS + EmoDB cold <= 70 s); `ccser-train --train ravdess --test emodb
--emotions AS` cold <= 120 s, warm <= 15 s. Rewrites the "Training speed"
section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import machine, update_section  # noqa: E402

from ccser_core.features import FeatureConfig  # noqa: E402
from training.cache import FeatureCache, extract_files  # noqa: E402
from training.meta import load_metadata  # noqa: E402


def timed_cli(args: list[str]) -> float:
    start = time.perf_counter()
    exe = Path(sys.executable).parent / "ccser-train"  # the one installed with this Python
    subprocess.run([str(exe), *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    corpora = os.environ.get("CCSER_CORPORA")
    if not corpora:
        sys.exit("set CCSER_CORPORA to the folder holding ravdess/ and emodb/")
    jobs = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="ccser-speed-"))
    try:
        paths = []
        for name in ("ravdess", "emodb"):
            listing, _ = load_metadata(name, Path(corpora) / name, work / "meta-cache")
            paths += [u.path for u in listing.utterances]
        cache = FeatureCache(work / "cache", FeatureConfig())
        start = time.perf_counter()
        ex = extract_files(paths, cache, jobs=jobs, quiet=True)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        again = extract_files(paths, cache, jobs=jobs, quiet=True)
        warm = time.perf_counter() - start
        assert again.n_extracted == 0
        args = ["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--quiet",
                "--cache-dir", str(work / "train-cache"), "--output", str(work / "model"),
                "--corpus-dir", corpora]
        train_cold = timed_cli(args)
        train_warm = timed_cli(args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rate = len(paths) / cold
    rows = [
        ("feature extraction, RAVDESS + EmoDB cold", f"{len(paths)} files in {cold:.1f} s "
         f"= {rate:.0f} files/s ({len(ex.errors)} errors)", "≥ 30 files/s, ≤ 70 s",
         rate >= 30 and cold <= 70),
        ("feature extraction, warm (all cached)", f"{warm:.1f} s, 0 extracted", "-", True),
        ("`ccser-train --train ravdess --test emodb --emotions AS`, cold", f"{train_cold:.1f} s",
         "≤ 120 s", train_cold <= 120),
        ("same, warm (cached features)", f"{train_warm:.1f} s", "≤ 15 s", train_warm <= 15),
    ]
    body = "\n".join([
        f"Machine: {machine()}. `--jobs {jobs}`. Command: "
        "`CCSER_CORPORA=../shared/corpora python benchmarks/train_speed.py` (fresh cache folders; "
        "wall-clock times include process start and ONNX export).",
        "", "| what | measured | target | met |", "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {'yes' if ok else '**no**'} |" for a, b, c, ok in rows],
    ])
    print(body)
    update_section("Training speed", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
