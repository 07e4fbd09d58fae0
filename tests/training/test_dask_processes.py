"""`ccser-train --dask` against real `dask scheduler` / `dask worker` processes, as a user
runs them: the same report as a local run, and a worker that cannot see the corpora
(another user, no access to their folder) stopping the run with one line naming it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def process(args: list[str], log: Path, user: str | None = None, home: Path | None = None):
    """A background process (optionally as another user, living in `home`), stopped on exit."""
    prefix = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups"] if user else []
    env = {**os.environ, "HOME": str(home)} if home else None
    with log.open("wb") as out:
        proc = subprocess.Popen(prefix + args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=home)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_workers(address: str, n: int) -> None:
    with distributed.Client(address, timeout="20s") as client:
        client.wait_for_workers(n, timeout=60)
        deadline = time.monotonic() + 30
        while len(client.nthreads()) != n and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(client.nthreads()) == n


def worker_args(address: str, folder: Path, nanny: bool = True) -> list[str]:
    return [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard",
            "--local-directory", str(folder), "--nanny" if nanny else "--no-nanny"]


def train(corpus_dir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ccser-train"), "--train", "ravdess", "--test", "emodb", "--emotions", "AS",
         "--models", "logreg,svc", "--folds", "2", "--corpus-dir", str(corpus_dir), "--jobs", "1",
         "--quiet", "--no-export", "--cache-dir", str(out / "cache"), "--report",
         str(out / "r.json"), *extra], capture_output=True, text=True, timeout=600)


@pytest.fixture
def scheduler(tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    with process([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                  "--no-dashboard"], tmp_path / "scheduler.log"):
        yield address


def test_train_through_dask_processes_matches_local(scheduler, fake_corpora, tmp_path):
    (tmp_path / "w").mkdir()
    with process(worker_args(scheduler, tmp_path / "w"), tmp_path / "worker.log"):
        wait_workers(scheduler, 1)
        remote = train(fake_corpora, tmp_path / "dask", "--dask", scheduler)
    local = train(fake_corpora, tmp_path / "local")
    assert remote.returncode == 0, remote.stderr + (tmp_path / "worker.log").read_text()
    assert local.returncode == 0, local.stderr
    r = json.loads((tmp_path / "dask" / "r.json").read_text())
    lo = json.loads((tmp_path / "local" / "r.json").read_text())
    assert r["executor"] == {"backend": "dask", "scheduler": scheduler, "n_workers": 1}
    assert (r["best_model"], r["best_cv_uar"], r["results"]["emodb"]["uar"]) == \
        (lo["best_model"], lo["best_cv_uar"], lo["results"]["emodb"]["uar"])
    # The cache was written by ccser-train, next to it, not by the worker.
    assert len(list((tmp_path / "dask" / "cache").rglob("*.npy"))) == 48


def test_a_worker_that_cannot_see_the_corpora_stops_the_run_naming_itself_and_the_file(
        scheduler, fake_corpora, tmp_path):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a worker as another user")
    probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            sys.executable, "-c", "import training.cache, distributed"],
                           capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("user nobody cannot import this checkout (folder permissions)")
    a_file = next(fake_corpora.rglob("*.flac"))
    if subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "test",
                       "-r", str(a_file)], timeout=30).returncode == 0:
        pytest.skip("the fake corpora are readable by everyone here")
    work = Path(tempfile.mkdtemp(prefix="ccser-nobody-worker-"))  # outside the private tmp_path
    work.chmod(0o777)
    try:
        # No nanny: it would spawn the worker with an interpreter path only root may use.
        with process(worker_args(scheduler, work, nanny=False), tmp_path / "worker.log",
                     user="nobody",
                     home=work):
            wait_workers(scheduler, 1)
            proc = train(fake_corpora, tmp_path / "dask", "--dask", scheduler)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("ccser-train: error:")]
    assert len(line) == 1, proc.stderr
    assert "Dask worker tcp://127.0.0.1:" in line[0] and "cannot read " + str(fake_corpora) in line[0]
    assert "same path on every worker" in line[0]
