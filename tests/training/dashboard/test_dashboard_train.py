"""The Train panel's back end: requests limited to the configured corpora and models dir,
a real ccser-train run that ends as a model in Models, one run at a time, cancel."""

from __future__ import annotations

import time

import pytest

from training.dashboard.trainer import TrainError, parse_request, train_command

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from dashboard_helpers import free_port, serve  # noqa: E402

from ccser_core.model import default_model_dir  # noqa: E402
from training.dashboard.config import DashboardConfig  # noqa: E402

H = {"X-Ccser-Dashboard": "1"}
FORM = {"train": ["ravdess"], "test": ["emodb"], "emotions": ["angry", "sad"],
        "features": ["spectral", "prosody"], "models": ["logreg"]}


def test_requests_name_only_what_the_dashboard_offers(fake_corpora, tmp_path):
    req = parse_request(FORM, fake_corpora, tmp_path)
    assert req.name == "ravdess_SA" and req.emotions == ("sad", "angry")
    cmd = train_command(req, fake_corpora, tmp_path, jobs=1)
    assert cmd[cmd.index("--corpus-dir") + 1] == str(fake_corpora)
    assert cmd[cmd.index("--output") + 1] == str(tmp_path / "ravdess_SA")
    assert cmd[cmd.index("--report") + 1] == str(tmp_path / "ravdess_SA" / "report.json")
    bad = [({**FORM, "train": ["savee"]}, "train: savee not available"),
           ({**FORM, "train": ["../../etc"]}, "train: ../../etc not available"),
           ({**FORM, "test": ["ravdess"]}, "also a training corpus"),
           ({**FORM, "emotions": ["angry"]}, "emotions: need at least two"),
           ({**FORM, "models": ["rm -rf"]}, "models: rm -rf not available"),
           ({**FORM, "features": []}, "features: choose at least one"),
           ({**FORM, "name": "../outside"}, "name: '../outside' must be"),
           ({**FORM, "train": "ravdess"}, "train: expected a list")]
    for form, message in bad:
        with pytest.raises(TrainError, match=message.replace(".", r"\.").replace("(", r"\(")):
            parse_request(form, fake_corpora, tmp_path)
    (tmp_path / "taken").mkdir()
    with pytest.raises(TrainError, match="exists already"):
        parse_request({**FORM, "name": "taken"}, fake_corpora, tmp_path)
    with pytest.raises(TrainError, match="no corpora found"):
        parse_request(FORM, tmp_path / "none", tmp_path)


def wait_for(url: str, states: set[str], timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(url + "/api/train").json()
        if status["state"] in states:
            return status
        time.sleep(0.5)
    raise AssertionError(f"training still {status['state']}: {status['log'][-5:]}")


@pytest.mark.slow
def test_a_run_ends_as_a_model_with_its_report_and_cancel_stops_a_run(fake_corpora, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    models = tmp_path / "models"
    cfg = DashboardConfig(connect=f"tcp://127.0.0.1:{free_port()}", port=free_port(),
                          models_dirs=(models,), default_model=default_model_dir(),
                          corpus_dir=fake_corpora)
    with serve(cfg) as url:
        options = httpx.get(url + "/api/train/options").json()
        assert options["corpora"] == ["ravdess", "emodb"] and "logreg" in options["models"]
        r = httpx.post(url + "/api/train", json={**FORM, "name": "first"}, headers=H)
        assert r.status_code == 202 and r.json()["state"] == "running"
        busy = httpx.post(url + "/api/train", json={**FORM, "name": "second"}, headers=H)
        assert busy.status_code == 409 and "in progress" in busy.json()["error"]
        done = wait_for(url, {"finished", "failed"})
        assert done["state"] == "finished", done["log"][-10:]
        assert done["returncode"] == 0 and any("model:" in line for line in done["log"])
        listed = {m["name"]: m for m in httpx.get(url + "/api/models").json()["models"]}
        first = listed["first"]
        assert first["emotions"] == ["sad", "angry"] and first["has_report"]
        assert [row["name"] for row in first["metrics"] if row["kind"] == "test"] == ["emodb"]
        assert first["confusion"][0]["title"] == "test emodb"

        r = httpx.post(url + "/api/train", json={**FORM, "name": "stopped"}, headers=H)
        assert r.status_code == 202
        cancelled = httpx.post(url + "/api/train/cancel", headers=H, timeout=30).json()
        assert cancelled["state"] == "cancelled"
        assert not (models / "stopped" / "model.onnx").exists()
        assert httpx.post(url + "/api/train/cancel", headers=H).status_code == 409
