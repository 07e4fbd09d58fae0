"""extract(): the one feature path shared by training (files) and the daemon (live windows)."""

import dataclasses

import numpy as np
import pytest

from ccser_core.audio import load_audio, resample
from ccser_core.features import FeatureConfig, extract, feature_names, fingerprint
from ccser_core.vad import VadConfig

SR = 16000
DEFAULT = FeatureConfig()
SEED_STYLE = FeatureConfig(groups=("mfcc", "chroma", "mel", "contrast", "tonnetz"), n_mfcc=40,
                           n_mels=128, stats=("mean",), vad_trim=False)


def check_vector(x, config):
    assert x.dtype == np.float32
    assert x.shape == (len(feature_names(config)),)
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("config", [DEFAULT, SEED_STYLE], ids=["default", "seed-style"])
def test_speech_gives_a_finite_float32_vector_of_the_named_length(speech, config):
    check_vector(extract(speech(SR, 1.0), SR, config), config)


def test_seed_style_config_has_193_features():
    assert len(feature_names(SEED_STYLE)) == 193


def test_feature_names_are_unique():
    for config in (DEFAULT, SEED_STYLE):
        names = feature_names(config)
        assert len(set(names)) == len(names)


@pytest.fixture(params=["silence", "clipped", "dc-offset", "very-loud", "50ms", "1-sample",
                        "empty", "noise"])
def awkward(request, speech, noise):
    y = speech(SR, 0.8)
    return {
        "silence": np.zeros(SR, np.float32),
        "clipped": np.clip(8 * y, -1, 1),
        "dc-offset": y + 0.4,
        "very-loud": 1000 * y,
        "50ms": speech(SR, 0.05, am=0.0),
        "1-sample": y[:1],
        "empty": y[:0],
        "noise": noise(SR, 0.8, amp=0.2),
    }[request.param]


@pytest.mark.parametrize("config", [DEFAULT, SEED_STYLE], ids=["default", "seed-style"])
def test_awkward_input_still_gives_finite_vectors(awkward, config):
    check_vector(extract(awkward, SR, config), config)


def test_nan_samples_do_not_poison_the_vector(speech):
    y = speech(SR, 0.5)
    y[100:200] = np.nan
    check_vector(extract(y, SR, DEFAULT), DEFAULT)


def test_extraction_is_deterministic(speech):
    y = speech(SR, 1.0)
    np.testing.assert_array_equal(extract(y, SR, DEFAULT), extract(y.copy(), SR, DEFAULT))


def test_dc_offset_does_not_change_pitch_features(speech):
    y = speech(SR, 1.0)
    names = feature_names(DEFAULT)
    i = names.index("prosody.f0_mean")
    plain, shifted = extract(y, SR, DEFAULT), extract(y + 0.2, SR, DEFAULT)
    assert shifted[i] == pytest.approx(plain[i], abs=0.2)  # semitones


@pytest.mark.parametrize(("file_sr", "channels"), [(16000, 1), (48000, 2), (44100, 1)])
def test_a_file_and_its_samples_give_identical_vectors(tmp_path, speech, write_audio, file_sr,
                                                       channels):
    """Training reads files, the daemon passes samples: the vectors must be identical."""
    y = speech(file_sr, 1.0)
    path = write_audio(tmp_path / "u.wav", y, file_sr, channels, subtype="FLOAT")
    from_file = extract(load_audio(path), SR, DEFAULT)
    mono = y if channels == 1 else np.stack([y, 0.8 * y], 1).mean(axis=1, dtype=np.float32)
    from_samples = extract(resample(mono, file_sr, SR), SR, DEFAULT)
    np.testing.assert_array_equal(from_file, from_samples)


def test_higher_voice_gives_higher_f0_mean(speech):
    i = feature_names(DEFAULT).index("prosody.f0_mean")
    low = extract(speech(SR, 1.0, f0=110.0), SR, DEFAULT)[i]
    high = extract(speech(SR, 1.0, f0=220.0), SR, DEFAULT)[i]
    assert high > low
    assert high - low == pytest.approx(12.0, abs=1.0)  # one octave, in semitones


def test_wrong_sample_rate_is_refused(speech):
    with pytest.raises(ValueError, match="16000"):
        extract(speech(8000, 0.5), 8000, DEFAULT)


CHANGES = {
    "sample_rate": 8000, "n_fft": 1024, "win_length": 512, "hop_length": 80, "n_mels": 64,
    "n_mfcc": 13, "fmin": 70.0, "fmax": 400.0, "voicing_threshold": 0.6,
    "groups": ("mfcc",), "stats": ("mean", "std"), "vad_trim": False,
    "vad": VadConfig(aggressiveness=3),
}


def test_every_config_field_is_covered_here():
    assert set(CHANGES) == {f.name for f in dataclasses.fields(FeatureConfig)}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_fingerprint_changes_when_any_field_changes(field):
    changed = dataclasses.replace(DEFAULT, **{field: CHANGES[field]})
    assert fingerprint(changed) != fingerprint(DEFAULT)


@pytest.mark.parametrize("field", ["pad_frames", "frame_ms"])
def test_fingerprint_changes_with_the_vad_settings(field):
    vad = dataclasses.replace(VadConfig(), **{field: 10 if field == "frame_ms" else 5})
    assert fingerprint(dataclasses.replace(DEFAULT, vad=vad)) != fingerprint(DEFAULT)


def test_fingerprint_is_stable_for_equal_configs():
    again = FeatureConfig.from_dict(DEFAULT.to_dict())
    assert fingerprint(again) == fingerprint(DEFAULT) == fingerprint(FeatureConfig())
    assert fingerprint(SEED_STYLE) == fingerprint(dataclasses.replace(SEED_STYLE))


@pytest.mark.parametrize("config", [DEFAULT, SEED_STYLE,
                                    dataclasses.replace(DEFAULT, vad=VadConfig(1, 20, 0))])
def test_config_round_trips_through_dict_and_json(config):
    import json

    d = config.to_dict()
    assert FeatureConfig.from_dict(d) == config
    assert FeatureConfig.from_dict(json.loads(json.dumps(d))) == config


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="colour"):
        FeatureConfig.from_dict({**DEFAULT.to_dict(), "colour": "blue"})


@pytest.mark.parametrize("kwargs", [{"groups": ("mfcc", "wavelets")}, {"groups": ()},
                                    {"stats": ("mean", "kurtosis")}, {"stats": ()}])
def test_unknown_groups_and_stats_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        FeatureConfig(**kwargs)


def test_unknown_group_is_named():
    with pytest.raises(ValueError, match="wavelets"):
        FeatureConfig(groups=("wavelets",))
    with pytest.raises(ValueError, match="kurtosis"):
        FeatureConfig(stats=("kurtosis",))
