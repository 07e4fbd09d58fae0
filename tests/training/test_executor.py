"""ccser-train on a Dask cluster (`--dask`): same vectors and the same chosen model as a
local run, the cache written only by the client, cached files never sent, clear errors
for unreachable clusters and unreadable paths, a worker dying mid-run, and no
`distributed` import without `--dask`. The cluster is a 2-process LocalCluster."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from ccser_core.features import FeatureConfig
from training import cli, executor
from training.cache import FeatureCache, WorkerPathError, _extract_one, extract_files

distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")

CONFIG = FeatureConfig()


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each (what two cores can run)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as c:
        yield c


@pytest.fixture
def files(tmp_path, emotional_speech, write_audio):
    return [str(write_audio(tmp_path / "audio" / f"{i:02d}.wav",
                            emotional_speech(("angry", "sad")[i % 2], 16000, 1.0, i), 16000))
            for i in range(24)]


def valid_entries(cache: FeatureCache) -> int:
    """Cache entries that read back whole (sidecar present, vector the right shape)."""
    return sum(cache.get(side.stem) is not None for side in cache.root.rglob("*.json"))


def test_dask_extraction_equals_local_and_only_the_client_writes_the_cache(
        cluster, files, tmp_path):
    local = extract_files(files, FeatureCache(tmp_path / "local", CONFIG), quiet=True)
    cache = FeatureCache(tmp_path / "dask", CONFIG)
    with executor.executor(cluster.scheduler_address, 1) as where:
        client = distributed.get_client()
        with distributed.get_task_stream(client) as cold:
            remote = extract_files(files, cache, quiet=True)
        with distributed.get_task_stream(client) as warm:
            again = extract_files(files, cache, quiet=True)
    assert where == {"backend": "dask", "scheduler": cluster.scheduler_address, "n_workers": 2}
    assert remote.n_extracted == 24 and remote.errors == ()
    assert np.array_equal(remote.X, local.X)  # bit-identical vectors
    assert len({t["worker"] for t in cold.data}) == 2  # both workers extracted
    assert valid_entries(cache) == 24
    # Cached files are never sent: the warm pass runs no task on the cluster at all.
    assert again.n_extracted == 0 and warm.data == []
    assert np.array_equal(again.X, local.X)


def test_a_worker_that_cannot_read_a_path_names_itself_and_the_file(cluster, tmp_path):
    missing = str(tmp_path / "not_on_this_worker.flac")
    with distributed.Client(cluster.scheduler_address) as client:
        future = client.submit(_extract_one, missing, CONFIG, "", 0)
        with pytest.raises(WorkerPathError) as err:
            future.result()
        worker = client.who_has(future).get(future.key) or ()
    message = str(err.value)
    assert missing in message and "same path on every worker" in message
    assert "Dask worker tcp://" in message
    assert not worker or worker[0] in message


def test_outside_a_worker_an_unreadable_file_is_skipped_as_before(tmp_path):
    missing = str(tmp_path / "gone.flac")
    assert _extract_one(missing, CONFIG, "", 0) == f"{missing}: file does not exist"


class KillingCache(FeatureCache):
    """Kills the worker that computed the first result (fault injection), then works on."""

    def __init__(self, root, config, client) -> None:
        super().__init__(root, config)
        self.client, self.killed = client, None

    def put(self, key, vec, source) -> None:
        super().put(key, vec, source)
        if self.killed is None:
            pids = self.client.run(os.getpid)  # worker address -> process id (this machine)
            busy = self.client.processing()
            self.killed = max(sorted(pids), key=lambda w: len(busy.get(w, ())))
            self.in_flight = len(busy.get(self.killed, ()))
            os.kill(pids[self.killed], signal.SIGKILL)


def test_a_worker_dying_mid_extraction_neither_loses_files_nor_corrupts_the_cache(
        cluster, files, tmp_path):
    local = extract_files(files, FeatureCache(tmp_path / "local", CONFIG), quiet=True)
    with executor.executor(cluster.scheduler_address, 1):
        cache = KillingCache(tmp_path / "dask", CONFIG, distributed.get_client())
        remote = extract_files(files, cache, quiet=True)
    assert cache.killed is not None and cache.in_flight > 0  # it died holding work
    assert remote.ok.all() and remote.errors == ()
    assert np.array_equal(remote.X, local.X)
    assert valid_entries(cache) == len(files)
    cluster.wait_for_workers(2)  # the nanny restarts it for the next tests


def test_a_task_that_keeps_killing_workers_fails_the_run_with_one_clear_error():
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                     dashboard_address=None, silence_logs=50) as small, \
            pytest.raises(executor.ExecutorError, match="died running task.*cache is intact"), \
            executor.executor(small.scheduler_address, 1):
        distributed.get_client().submit(os._exit, 1).result()


def test_train_on_dask_chooses_the_same_model_with_the_same_scores(
        cluster, fake_corpora, tmp_path):
    reports = {}
    for name, extra in (("local", []), ("dask", ["--dask", cluster.scheduler_address])):
        out = tmp_path / name
        code = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS",
                         "--models", "logreg,svc", "--folds", "2", "--corpus-dir",
                         str(fake_corpora), "--jobs", "1", "--quiet", "--cache-dir",
                         str(out / "cache"), "--no-export", "--report", str(out / "r.json"),
                         *extra])
        assert code == 0
        reports[name] = json.loads((out / "r.json").read_text())
    local, dask = reports["local"], reports["dask"]
    assert local["executor"] == {"backend": "local", "jobs": 1}
    assert dask["executor"] == {"backend": "dask", "scheduler": cluster.scheduler_address,
                                "n_workers": 2}
    assert dask["best_model"] == local["best_model"]
    assert dask["best_params"] == local["best_params"]
    assert dask["best_cv_uar"] == local["best_cv_uar"]
    assert dask["results"]["emodb"]["uar"] == local["results"]["emodb"]["uar"]
    assert {m: r["cv_uar"] for m, r in dask["models"].items()} == \
        {m: r["cv_uar"] for m, r in local["models"].items()}


def test_unreachable_scheduler_is_one_line_and_exit_1(monkeypatch, fake_corpora, tmp_path,
                                                      capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1.0)
    code = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS",
                     "--corpus-dir", str(fake_corpora), "--quiet", "--no-export",
                     "--cache-dir", str(tmp_path), "--dask", f"tcp://127.0.0.1:{free_port}"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"--dask tcp://127.0.0.1:{free_port}: cannot reach the Dask scheduler" in err
    assert "Traceback" not in err


def test_missing_extra_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(executor.ExecutorError, match=r"pip install 'ccser\[dask\]'"), \
            executor.executor("tcp://127.0.0.1:1", 1):
        pass


def test_without_dask_nothing_imports_distributed(fake_corpora, tmp_path):
    code = f"""
import sys
from training import cli
assert cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--quiet",
                 "--corpus-dir", {str(fake_corpora)!r}, "--cache-dir", {str(tmp_path)!r},
                 "--no-export", "--jobs", "2", "--folds", "2"]) == 0
print(sorted(m for m in sys.modules if m.split(".")[0] in ("distributed", "dask")))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
