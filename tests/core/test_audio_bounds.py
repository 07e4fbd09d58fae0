"""Decoded audio is bounded: a tiny, highly compressed file cannot make the loader
hold its whole multichannel high-rate signal, a file past the duration limit is
refused before decoding with a message naming it, its length and the limit, and a
file whose name is not UTF-8 loads like any other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
from generated_audio import silent_flac

from ccser_core.audio import (
    MAX_DURATION_S,
    WORKING_RATE,
    TooLongError,
    blocks,
    load_audio,
    resample,
    to_mono,
)
from ccser_core.errors import AudioError


def test_an_8_channel_192k_bomb_decodes_in_bounded_memory(tmp_path):
    # 1 minute of 8 x 192 kHz is 369 MB as float32; its 16 kHz mono result is 3.8 MB.
    bomb = silent_flac(tmp_path / "bomb.flac", 60, 192000, 8)
    assert bomb.stat().st_size < 200_000
    probe = textwrap.dedent(f"""
        import tracemalloc
        from ccser_core.audio import load_audio
        tracemalloc.start()
        y = load_audio({str(bomb)!r})
        print(len(y), tracemalloc.get_traced_memory()[1])
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    n, peak = int(out[0]), int(out[1])
    assert n == 60 * WORKING_RATE
    assert peak < 30 * 2**20, f"peak {peak / 2**20:.0f} MB traced while decoding"


def test_a_file_past_the_limit_is_refused_naming_it_its_length_and_the_limit(tmp_path):
    long = silent_flac(tmp_path / "long.flac", MAX_DURATION_S + 60, WORKING_RATE, 1)
    with pytest.raises(TooLongError) as caught:
        load_audio(long)
    assert str(caught.value) == f"{long}: {MAX_DURATION_S + 60:.1f} s long; " \
                                f"the limit is {MAX_DURATION_S:g} s"
    assert isinstance(caught.value, AudioError)  # every reader already skips AudioError


def test_the_limit_is_a_parameter(tmp_path, speech, write_audio):
    path = write_audio(tmp_path / "s.wav", speech(48000, 3.0), 48000, channels=2)
    with pytest.raises(TooLongError, match=r"s\.wav: 3\.0 s long; the limit is 2\.5 s"):
        load_audio(path, max_duration_s=2.5)
    assert len(load_audio(path, max_duration_s=3.0)) == 3 * WORKING_RATE


def test_decoding_stops_at_the_limit_whatever_the_header_announced(tmp_path, tone):
    # The safety net behind the header check: a header announcing less than the file
    # holds cannot make decoding hold more than the limit.
    path = tmp_path / "more.wav"
    sf.write(str(path), tone(440, 16000, 60.0), 16000)
    with sf.SoundFile(str(path)) as fh, pytest.raises(TooLongError) as caught:
        for _ in blocks(fh, path, max_frames=2 * 16000):
            pass
    assert re.fullmatch(rf"{re.escape(str(path))}: more than [\d.]+ s long; the limit is 2 s",
                        str(caught.value))
    assert 2 < caught.value.duration_s < 60


def test_a_flac_of_unknown_length_is_refused_in_one_line(tmp_path):
    path = silent_flac(tmp_path / "stream.flac", 4, 16000, 1)
    raw = bytearray(path.read_bytes())
    raw[21] &= 0xF0  # STREAMINFO total samples (36 bits) = 0: "unknown", as a piped encoder
    raw[22:26] = bytes(4)
    path.write_bytes(bytes(raw))
    with pytest.raises(AudioError, match=r"stream\.flac: the header does not give the length"):
        load_audio(path)


def test_too_many_channels_times_rate_is_refused_before_decoding(tmp_path):
    path = tmp_path / "wide.wav"
    sf.write(str(path), np.zeros((10, 32), np.int16), 192000, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"wide\.wav: 32 channels at 192000 Hz"):
        load_audio(path)


@pytest.mark.parametrize("sr", [8000, 44100, 48000, 192000])
def test_block_decoding_equals_resampling_the_whole_signal(tmp_path, speech, write_audio, sr):
    y = speech(sr, 9.0)  # several blocks at every rate
    path = write_audio(tmp_path / "s.wav", y, sr, channels=2, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path), resample(to_mono(sf.read(path)[0]), sr))


def test_a_wav_whose_name_is_not_utf8_loads(tmp_path, tone):
    name = os.fsdecode(b"caf\xe9-\xff.wav")  # Latin-1 bytes: not valid UTF-8
    path = tmp_path / name
    sf.write(os.fsencode(path), tone(440, 16000, 0.5), 16000)
    assert len(load_audio(path)) == 8000


def test_an_unreadable_file_not_named_in_utf8_is_named_printably(tmp_path):
    path = tmp_path / os.fsdecode(b"caf\xe9.wav")
    path.write_bytes(b"not audio at all" * 100)
    with pytest.raises(AudioError) as caught:
        load_audio(path)
    assert str(caught.value).startswith(f"{tmp_path}/caf\\xe9.wav: unreadable")
    str(caught.value).encode("utf-8")  # prints on any UTF-8 terminal or log
