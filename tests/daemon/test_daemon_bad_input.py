"""Each user mistake or broken input: one clear line naming the culprit, non-zero exit."""

from __future__ import annotations

import json
import shutil

import pytest
import zmq
from daemon_helpers import EMOTIONS, build_model, ccserd, free_address, silence, write_wav

from ccser_core.model import CARD_NAME, ONNX_NAME, write_model_folder


def fails(*args: str) -> str:
    proc = ccserd(*args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def wav(tmp_path):
    return write_wav(tmp_path / "quiet.wav", silence(0.5))


def copy_model(model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    return folder


def test_missing_model_folder(tmp_path, wav):
    err = fails("--model", str(tmp_path / "nope"), "--source", str(wav))
    assert f"{tmp_path / 'nope'}: model folder does not exist" in err


def test_sha256_mismatch(model_dir, tmp_path, wav):
    folder = copy_model(model_dir, tmp_path)
    with (folder / ONNX_NAME).open("ab") as fh:
        fh.write(b"\0")
    err = fails("--model", str(folder), "--source", str(wav))
    assert f"{folder / ONNX_NAME}: sha256" in err and "does not match" in err


def test_corrupt_onnx(model_dir, tmp_path, wav):
    folder = copy_model(model_dir, tmp_path)
    card = json.loads((folder / CARD_NAME).read_text())
    write_model_folder(folder, b"this is not onnx", card)
    err = fails("--model", str(folder), "--source", str(wav))
    assert f"{folder / ONNX_NAME}: not a loadable ONNX model" in err


def test_card_and_onnx_disagree_on_emotions(model_dir, tmp_path, wav):
    folder = copy_model(model_dir, tmp_path)
    card = json.loads((folder / CARD_NAME).read_text())
    card["emotions"] = EMOTIONS[:3]
    write_model_folder(folder, (folder / ONNX_NAME).read_bytes(), card)
    err = fails("--model", str(folder), "--source", str(wav))
    assert "4 class probabilities" in err and "3 emotions" in err


def test_card_and_onnx_disagree_on_feature_size(tmp_path, wav):
    folder = build_model(tmp_path / "m")
    card = json.loads((folder / CARD_NAME).read_text())
    card["n_features"] += 1
    (folder / CARD_NAME).write_text(json.dumps(card))
    err = fails("--model", str(folder), "--source", str(wav))
    assert f"{folder / CARD_NAME}: n_features" in err


def test_unknown_device_lists_devices(model_dir):
    err = fails("--model", str(model_dir), "--device", "987")
    assert "input device 987 does not exist" in err and "available input devices" in err


def test_address_in_use(model_dir, wav):
    address = free_address()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.bind(address)
    try:
        err = fails("--model", str(model_dir), "--source", str(wav), "--publish", address)
    finally:
        sock.close(0)
        ctx.term()
    assert f"{address}: address already in use" in err


def test_missing_source_file(model_dir, tmp_path):
    err = fails("--model", str(model_dir), "--source", str(tmp_path / "none.wav"))
    assert f"{tmp_path / 'none.wav'}: file does not exist" in err


def test_unsupported_source_format(model_dir, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all")
    err = fails("--model", str(model_dir), "--source", str(bad))
    assert f"{bad}: unreadable or unsupported audio" in err


def test_bad_config_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("windoww = 2\n")
    err = fails("--config", str(path))
    assert f"{path}: unknown key 'windoww'" in err


def test_bad_publish_address(model_dir, wav):
    err = fails("--model", str(model_dir), "--source", str(wav), "--publish", "udp://x")
    assert "publish must be" in err
