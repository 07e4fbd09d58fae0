"""Config: defaults < TOML < flags, and clear errors naming the file and key."""

import pytest

from daemon.config import DEFAULT_MODEL, ConfigError, build_parser, load_config


def config(*argv):
    return load_config(build_parser().parse_args(list(argv)))


def test_defaults():
    c = config()
    assert c.model == DEFAULT_MODEL and c.model.parts[-2:] == ("exported_models", "default")
    assert c.publish == "tcp://127.0.0.1:5556"
    assert c.realtime and c.source is None


def test_toml_then_flags(tmp_path):
    path = tmp_path / "ccserd.toml"
    path.write_text('model = "models/x"\nhop = 1\nvad_aggressiveness = 3\nrealtime = false\n'
                    'device = 2\n')
    c = config("--config", str(path), "--hop", "0.25")
    assert c.model == (tmp_path / "models" / "x").resolve()
    assert c.hop == 0.25 and c.vad_aggressiveness == 3 and not c.realtime and c.device == "2"
    assert config("--config", str(path), "--realtime").realtime


@pytest.mark.parametrize(("text", "match"), [
    ("nonsense = 1\n", "unknown key 'nonsense'"),
    ('hop = "fast"\n', "hop must be float"),
    ("hop = [\n", "not valid TOML"),
    ("vad_aggressiveness = 7\n", "vad_aggressiveness"),
])
def test_bad_toml(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        config("--config", str(path))
    if "aggressiveness" not in match:
        assert str(path) in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        config("--config", str(tmp_path / "nope.toml"))


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ("--model", "--source", "--no-realtime", "--list-devices", "--publish",
                 "--wait-subscribers", "--window", "--hop", "--smoothing", "--config"):
        assert flag in text
