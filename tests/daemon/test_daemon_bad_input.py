"""Each user mistake or broken input: one clear line naming the culprit, non-zero exit."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import soundfile as sf
import zmq
from daemon_helpers import (
    EMOTIONS,
    SR,
    build_model,
    ccserd,
    free_address,
    run_file,
    silence,
    speech_like,
    write_wav,
)

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


# --- issue 9.8: one rule for input, the same live and offline, saying what is wrong -------

def same_refusal(model_dir, path, expected: str) -> None:
    """ccserd --source refuses `path` at startup with `expected`, and so does the
    offline loader (ccser-train, ccser-predict)."""
    from ccser_core.audio import load_audio
    from ccser_core.errors import AudioError

    err = fails("--model", str(model_dir), "--source", str(path), "--no-realtime")
    assert f"{path}: {expected}" in err, err
    with pytest.raises(AudioError, match=re.escape(f"{path}: {expected}")):
        load_audio(path)


def test_non_finite_samples_in_a_float_wav(model_dir, tmp_path):
    y = speech_like(1.0)
    y[8000] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), y, SR, subtype="FLOAT")
    same_refusal(model_dir, path, "audio contains NaN or infinite samples (first at 0.50 s)")


def test_truncated_wav(model_dir, tmp_path):
    whole = write_wav(tmp_path / "whole.wav", speech_like(2.0))
    path = tmp_path / "cut.wav"
    path.write_bytes(whole.read_bytes()[:30000])
    same_refusal(model_dir, path, "truncated: the WAV header announces 64000 bytes of audio, "
                                  "the file holds 29956")


def test_truncated_flac(model_dir, tmp_path):
    whole = tmp_path / "whole.flac"
    sf.write(str(whole), speech_like(3.0), SR)
    path = tmp_path / "cut.flac"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    same_refusal(model_dir, path, "cannot decode past")


def test_a_directory(model_dir, tmp_path):
    same_refusal(model_dir, tmp_path, "is a directory, not an audio file")


def test_mp3_that_is_not_mp3(model_dir, tmp_path):
    path = tmp_path / "song.mp3"
    path.write_text("this is a text file")
    same_refusal(model_dir, path, "unreadable or unsupported audio (its content is none of "
                                  "WAV, FLAC, OGG (Vorbis/Opus), MP3, AIFF)")
    assert "pipe" not in fails("--model", str(model_dir), "--source", str(path))


def test_good_float_wav_still_plays(model_dir, tmp_path):
    path = tmp_path / "ok.wav"
    sf.write(str(path), np.concatenate([silence(0.3), speech_like(1.0)]), SR, subtype="FLOAT")
    events, proc = run_file(model_dir, path)
    assert proc.returncode == 0, proc.stderr
    assert events[-1].type == "status" and events[-1].message == "end of source"


# --- issue 9.7 at the command line: exit 2 and one line, never a traceback ----------------

@pytest.mark.parametrize(("flags", "match"), [
    (["--hwm", "3000000000"], "hwm must be in 1..100000"),
    (["--window", "inf"], "window must be in 0.1..60"),
    (["--publish", "tcp://127.0.0.1:99999"], "port 99999 is not in 1..65535"),
    (["--publish", "inproc://x"], "inproc:// is unreachable"),
    (["--publish", "tcp://0.0.0.0:5556"], "reachable from other machines"),
])
def test_bad_values_exit_2(model_dir, wav, flags, match):
    assert match in fails("--model", str(model_dir), "--source", str(wav), *flags)


# --- issue 9.15: no microphone -> say how to run without one ------------------------------

def test_no_input_device_suggests_source(monkeypatch):
    import sounddevice as sd

    from daemon.devices import DeviceError, resolve_device

    monkeypatch.setattr(sd, "query_devices", lambda: [])
    monkeypatch.setattr(sd.default, "device", [-1, -1])
    with pytest.raises(DeviceError, match="no input device found") as info:
        resolve_device(None)
    assert "--source FILE" in str(info.value) and "--source -" in str(info.value)
