"""Where a run's parallel work executes: processes on this machine, or a Dask cluster.

Feature extraction and the grid search's fits go through joblib; this module
only chooses joblib's backend for the duration of a run. With `--dask ADDRESS`
it connects a `distributed.Client` and runs under
`joblib.parallel_config(backend="dask")`, so every `Parallel` call (ours and
scikit-learn's) becomes tasks on the cluster. Without it `distributed` is never
imported.

Workers read audio by path: the corpora must be at the same path on every
worker (a shared file system), and each worker needs the same ccser, numpy and
librosa versions as this machine (checked on connect, through the feature
fingerprint). Workers return vectors; the feature cache is written only here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from ccser_core.errors import CcserError
from ccser_core.features import FeatureConfig, fingerprint

CONNECT_TIMEOUT_S = 20.0
WORKER_WAIT_S = 30.0


class ExecutorError(CcserError):
    """The Dask cluster cannot be used, or failed under a run (names the scheduler)."""


def worker_identity() -> dict[str, str]:
    """What a worker computes features with (runs on each worker at connect)."""
    return {"host": socket.gethostname(), "fingerprint": fingerprint(FeatureConfig())}


def _connect(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ExecutorError("--dask needs the optional Dask packages: "
                            "pip install 'ccser[dask]'") from exc
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=True)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ExecutorError(f"--dask {address}: cannot reach the Dask scheduler ({exc})") from exc
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError as exc:
        client.close()
        raise ExecutorError(f"--dask {address}: no worker joined the scheduler within "
                            f"{WORKER_WAIT_S:.0f} s (start one with: dask worker {address})") from exc
    _check_workers(client, address)
    return client


def _check_workers(client: Any, address: str) -> None:
    """Refuse workers whose features would differ from this machine's (other versions)."""
    ours = fingerprint(FeatureConfig())
    try:
        found = client.run(worker_identity)
    except Exception as exc:  # e.g. ccser not installed on a worker
        client.close()
        raise ExecutorError(f"--dask {address}: a worker cannot run ccser ({type(exc).__name__}: "
                            f"{exc}); install the same ccser on every worker") from exc
    for worker, info in sorted(found.items()):
        if info["fingerprint"] != ours:
            client.close()
            raise ExecutorError(
                f"--dask {address}: worker {worker} ({info['host']}) computes features "
                "differently from this machine (ccser, numpy or librosa versions differ); "
                "install the same versions on every worker")


def _cluster_failure(exc: BaseException) -> str | None:
    """A message for exceptions that mean the cluster, not the run, failed."""
    if type(exc).__name__ == "KilledWorker":
        return (f"Dask workers died running task {getattr(exc, 'task', '?')!r} and its retries "
                "(out of memory? see the worker logs); the feature cache is intact, rerun to "
                "continue")
    if isinstance(exc, asyncio.CancelledError | concurrent.futures.CancelledError):
        return "the Dask scheduler cancelled the run's tasks (scheduler lost?)"
    if type(exc).__module__.startswith("distributed") or isinstance(exc, TimeoutError):
        return f"the Dask cluster failed under the run ({type(exc).__name__}: {exc})"
    return None


def _backend() -> str:
    """joblib's Dask backend, except that a cluster with a single thread still gets the
    work (joblib runs a one-slot pool's tasks in the calling process)."""
    from joblib import register_parallel_backend
    from joblib._dask import DaskDistributedBackend

    class DaskClusterBackend(DaskDistributedBackend):
        def effective_n_jobs(self, n_jobs: int | None) -> int:
            return max(2, super().effective_n_jobs(n_jobs))

    register_parallel_backend("ccser-dask", DaskClusterBackend)
    return "ccser-dask"


@contextlib.contextmanager
def executor(dask: str | None, jobs: int) -> Iterator[dict[str, Any]]:
    """Run the body with joblib's backend set; yields the report's `executor` entry:
    `{"backend": "local", "jobs": N}` or `{"backend": "dask", "scheduler": ADDRESS,
    "n_workers": N}` (workers when the run started)."""
    if dask is None:
        yield {"backend": "local", "jobs": jobs}
        return
    from joblib import parallel_config

    client = _connect(dask)
    info = {"backend": "dask", "scheduler": dask,
            "n_workers": len(client.nthreads())}
    try:
        with parallel_config(backend=_backend()):
            yield info
    except (Exception, asyncio.CancelledError) as exc:
        message = _cluster_failure(exc)
        if message is None:
            raise
        raise ExecutorError(f"--dask {dask}: {message}") from exc
    finally:
        client.close()
