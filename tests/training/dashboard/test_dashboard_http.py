"""The dashboard's HTTP endpoints on a real server: page and assets, the event stream,
models, recognition (one session, no speech, limits) and the request guard."""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from dashboard_helpers import emotion, free_port, publisher, serve, status  # noqa: E402

from ccser_core.model import default_model_dir, load_model  # noqa: E402
from ccser_core.recognise import recognise_session  # noqa: E402
from training.dashboard.config import DashboardConfig  # noqa: E402

SR = 16000
H = {"X-Ccser-Dashboard": "1"}


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A models dir with a copy of the default model plus the report ccser-train writes."""
    folder = tmp_path / "models" / "copy_AHNS"
    shutil.copytree(default_model_dir(), folder)
    cm = [[5, 1, 0, 0], [1, 4, 1, 0], [0, 0, 6, 0], [0, 2, 0, 4]]
    (folder / "report.json").write_text(json.dumps(
        {"results": {"emodb": {"uar": 0.7, "confusion_matrix": cm}}}))
    (tmp_path / "models" / "not_a_model").mkdir()
    return tmp_path / "models"


@pytest.fixture
def app(tmp_path: Path, models_dir: Path):
    zport = free_port()
    cfg = DashboardConfig(connect=f"tcp://127.0.0.1:{zport}", port=free_port(),
                          models_dirs=(models_dir,), default_model=default_model_dir(),
                          max_upload_mb=1.0, heartbeat_s=1.0)
    with serve(cfg) as url:
        yield url, zport


def wav_bytes(y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_page_and_its_assets_are_served_from_the_package(app):
    url, _ = app
    page = httpx.get(url + "/")
    assert page.status_code == 200
    for element in ('id="current-emotion"', 'id="daemon-state"', 'id="file-input"',
                    'id="file-result"', "/static/uPlot.iife.min.js"):
        assert element in page.text
    assert "https://" not in page.text  # works offline: no CDN
    assert httpx.get(url + "/static/uPlot.iife.min.js").status_code == 200
    assert "MIT" in httpx.get(url + "/static/uPlot.LICENSE").text
    info = httpx.get(url + "/api/info").json()
    assert info["max_upload_mb"] == 1.0 and info["connect"].startswith("tcp://127.0.0.1:")


def test_event_stream_starts_with_a_snapshot_and_relays_daemon_events(app):
    url, zport = app
    with publisher(zport) as pub, httpx.stream("GET", url + "/api/events", timeout=20) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        first = json.loads(next(line for line in lines if line.startswith("data:"))[5:])
        assert first["type"] == "snapshot" and first["daemons"] == []
        seen: list[dict] = []
        deadline = time.monotonic() + 15
        seq = 0
        while time.monotonic() < deadline and not any(m["type"] == "event" for m in seen):
            pub.send_multipart([b"status", json.dumps(status(seq)).encode()])
            pub.send_multipart([b"emotion", json.dumps(emotion(seq + 1)).encode()])
            seq += 2
            line = next(lines)
            if line.startswith("data:"):
                seen.append(json.loads(line[5:]))
        kinds = {m["type"] for m in seen}
        assert {"daemon", "event"} <= kinds
        event = next(m for m in seen if m["type"] == "event")["event"]
        assert event["emotion"] == "angry" and event["probabilities"]["angry"] == 0.6


def test_models_lists_the_default_and_the_models_dir_with_readable_cards(app):
    url, _ = app
    models = httpx.get(url + "/api/models").json()["models"]
    assert [m["name"] for m in models] == ["default", "copy_AHNS"]
    default, copy = models
    assert default["is_default"] and not copy["is_default"]
    assert default["emotions"] == ["neutral", "happy", "sad", "angry"]
    assert {c["name"] for c in default["corpora"]} == {"ravdess", "emodb", "savee", "casia",
                                                       "nemo"}
    kinds = {(row["kind"], row["name"]) for row in default["metrics"]}
    assert ("cross_corpus", "ravdess->emodb") in kinds and ("cross_corpus", "emodb->ravdess") in kinds
    assert copy["confusion"][0]["title"] == "test emodb"
    assert copy["confusion"][0]["matrix"][3] == [0, 2, 0, 4]
    png = httpx.get(url + f"/api/models/{default['key']}/confusion.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert httpx.get(url + "/api/models/nope/confusion.png").status_code == 404


def test_files_sent_together_are_recognised_as_one_session(app, speech, noise):
    url, _ = app
    voices = [speech(SR, 1.6, f0=120, amp=0.2), speech(SR, 1.6, f0=230, amp=0.6)]
    quiet = noise(SR, 1.5, amp=1e-4)
    files = [("files", ("a.wav", wav_bytes(voices[0]))), ("files", ("silence.wav", wav_bytes(quiet))),
             ("files", ("b.wav", wav_bytes(voices[1]))),
             ("files", ("../../etc/bad.flac", b"not audio at all"))]
    r = httpx.post(url + "/api/recognise", files=files, headers=H, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    a, silent, b, bad = body["files"]
    assert [a["name"], silent["name"], b["name"], bad["name"]] == ["a.wav", "silence.wav", "b.wav",
                                                                   "bad.flac"]
    assert silent["speech"] is False and silent["emotion"] is None
    assert "bad.flac" in bad["error"] and "ccser-dashboard-" not in bad["error"]
    model = load_model(default_model_dir())
    decoded = [sf.read(io.BytesIO(wav_bytes(v)), dtype="float32")[0] for v in voices]  # 16-bit
    expected = recognise_session(model, decoded)
    for got, want in zip((a, b), expected, strict=True):
        assert got["emotion"] == want.emotion
        assert got["probabilities"] == pytest.approx(want.probabilities, abs=1e-6)
        assert len(got["waveform"]["max"]) == 800 and got["segments"]
    assert body["model"]["emotions"] == model.emotions


def test_uploads_over_the_limit_are_refused_with_a_clear_message(app):
    url, _ = app
    big = b"\0" * (1024 * 1024 + 10)
    r = httpx.post(url + "/api/recognise", files=[("files", ("big.wav", big))], headers=H)
    assert r.status_code == 413
    assert "limit is 1 MB" in r.json()["error"]
    r = httpx.post(url + "/api/recognise", data={"model": ""}, headers=H)
    assert r.status_code == 400 and "no file" in r.json()["error"]


def test_guard_refuses_cross_site_posts_and_foreign_host_names(app):
    url, _ = app
    r = httpx.post(url + "/api/recognise", files=[("files", ("a.wav", b"x"))])
    assert r.status_code == 403 and "x-ccser-dashboard" in r.text
    r = httpx.get(url + "/", headers={"Host": "evil.example:8765"})
    assert r.status_code == 421


def test_a_token_is_required_when_set_and_the_token_url_sets_a_cookie(tmp_path):
    cfg = DashboardConfig(connect=f"tcp://127.0.0.1:{free_port()}", port=free_port(),
                          models_dirs=(tmp_path,), default_model=default_model_dir(),
                          token="s3cret")
    with serve(cfg) as url:
        assert httpx.get(url + "/api/info").status_code == 401
        assert httpx.get(url + "/api/info?token=wrong").status_code == 401
        assert httpx.get(url + "/api/info", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        with httpx.Client() as client:
            r = client.get(url + "/?token=s3cret&x=1", follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/?x=1"
            assert client.get(url + "/api/info").status_code == 200  # the cookie
