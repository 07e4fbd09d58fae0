"""Feature extraction on a Dask cluster vs this process, cold, in one run.

    CCSER_CORPORA=../shared/corpora python benchmarks/dask_extraction.py [--limit N]

Extracts the four shared corpora (ravdess, emodb, savee, casia) twice into
empty caches: locally with `--jobs 1`, then through `training.executor` on a
2-worker `distributed.LocalCluster` (one thread per worker process, what two
cores hold). Prints the speed ratio and the overhead per file, i.e. how much
longer each file took than a perfect 2x split of the local time, and checks
the vectors are identical. Rewrites the "Training on Dask" section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import machine, update_section  # noqa: E402

from ccser_core.features import FeatureConfig  # noqa: E402
from training.cache import FeatureCache, extract_files  # noqa: E402
from training.executor import executor  # noqa: E402
from training.meta import load_metadata  # noqa: E402

CORPORA = ("ravdess", "emodb", "savee", "casia")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="first N files only (quick check)")
    args = parser.parse_args()
    corpora = os.environ.get("CCSER_CORPORA")
    if not corpora:
        sys.exit("set CCSER_CORPORA to the folder holding the corpora")
    from distributed import LocalCluster

    work = Path(tempfile.mkdtemp(prefix="ccser-dask-bench-"))
    try:
        paths: list[str] = []
        for name in CORPORA:
            listing, _ = load_metadata(name, Path(corpora) / name, work / "meta")
            paths += [u.path for u in listing.utterances]
        paths = paths[: args.limit] if args.limit else paths
        config = FeatureConfig()
        start = time.perf_counter()
        local = extract_files(paths, FeatureCache(work / "local", config), jobs=1, quiet=True)
        t_local = time.perf_counter() - start
        start = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=40) as cluster:
            t_cluster = time.perf_counter() - start
            with executor(cluster.scheduler_address, 1) as where:
                start = time.perf_counter()
                remote = extract_files(paths, FeatureCache(work / "dask", config), quiet=True)
                t_dask = time.perf_counter() - start
        load = os.getloadavg()[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    same = bool(np.array_equal(local.X, remote.X))
    n = len(paths)
    ratio = t_local / t_dask
    overhead_ms = (t_dask - t_local / 2) / n * 1000
    print(f"{n} files: local --jobs 1 {t_local:.1f} s ({n / t_local:.0f} files/s), "
          f"dask 2 workers {t_dask:.1f} s ({n / t_dask:.0f} files/s), speed-up {ratio:.2f}x, "
          f"overhead {overhead_ms:.2f} ms/file over a perfect 2x split; identical: {same}")
    if args.limit:
        return 0 if same else 1
    update_section("Training on Dask", f"""
Machine: {machine()}; load average {load:.1f} at the end (the machine is shared).
Command: `CCSER_CORPORA=../shared/corpora python benchmarks/dask_extraction.py`.
Cold feature extraction of {', '.join(CORPORA)} ({n} files, default features) into empty
caches, in one run: this process with `--jobs 1`, then `training.executor` on a
`distributed.LocalCluster` of 2 worker processes x 1 thread ({where['n_workers']} workers;
starting the cluster took {t_cluster:.1f} s, not counted).

| measure | result |
| --- | --- |
| local, `--jobs 1` | {t_local:.1f} s ({n / t_local:.0f} files/s) |
| Dask, 2 local workers | {t_dask:.1f} s ({n / t_dask:.0f} files/s) |
| speed-up (local / Dask) | {ratio:.2f}x (2 cores: at most 2x) |
| overhead per file vs a perfect 2x split | {overhead_ms:.2f} ms |
| vectors identical to the local run | {'yes' if same else 'NO'} |
| unreadable files (local / Dask) | {len(local.errors)} / {len(remote.errors)} |

On a busy shared machine the two halves see different loads, so the ratio can exceed
2x and the overhead come out negative; on an idle machine expect a little under 2x.
""")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
