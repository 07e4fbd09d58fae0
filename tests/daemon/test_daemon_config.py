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


@pytest.mark.parametrize(("flags", "match"), [
    (["--window", "inf"], "window must be in"),
    (["--max-utterance", "inf"], "max_utterance must be in"),
    (["--start-delay", "inf"], "start_delay must be in"),
    (["--hwm", "3000000000"], "hwm must be in"),
    (["--hop", "1e-9"], "hop must be in"),
    (["--status-interval", "nan"], "status_interval must be in"),
    (["--publish", "tcp://127.0.0.1:99999"], "port 99999 is not in 1..65535"),
    (["--publish", "tcp://127.0.0.1:*"], "give a fixed port"),
    (["--publish", "inproc://events"], "inproc:// is unreachable"),
    (["--publish", "ipc://" + "x" * 120], "Unix sockets allow 107"),
    (["--log-level", "LOUD"], "log_level must be"),
    (["--ipc-mode", "0999"], "ipc_mode must be an octal file mode"),
])
def test_values_that_would_fail_later_are_refused_up_front(flags, match):
    """Issue 9.7: every value that passes validation works (no overflow tracebacks,
    no random port, no unreachable address)."""
    with pytest.raises(ConfigError, match=match):
        config(*flags)


def test_inf_in_the_config_file_names_the_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("max_utterance = inf\n")
    with pytest.raises(ConfigError, match="max_utterance must be in 0.1..600, got inf"):
        config("--config", str(path))


def test_curve_paths_in_the_config_file_are_relative_to_it(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('publish = "tcp://0.0.0.0:5556"\ncurve_secret_key = "keys/s.key_secret"\n'
                    'curve_authorized_keys = "clients"\n')
    c = config("--config", str(path))
    assert c.curve_secret_key == tmp_path / "keys" / "s.key_secret"
    assert c.curve_authorized_keys == tmp_path / "clients"


@pytest.mark.parametrize("address", ["tcp://0.0.0.0:5556", "tcp://*:5556", "tcp://eth0:5556",
                                     "tcp://192.168.1.5:5556", "tcp://[::]:5556",
                                     "ipc://@abstract"])
def test_non_loopback_publish_needs_curve(address):
    """Issue 9.2: events never leave the machine unauthenticated."""
    with pytest.raises(ConfigError, match="reachable from other machines"):
        config("--publish", address)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:5556", "tcp://127.0.0.2:7000",
                                     "tcp://[::1]:5556", "tcp://localhost:5556",
                                     "ipc:///run/ccser/events.sock"])
def test_loopback_publish_needs_nothing(address):
    assert config("--publish", address).publish == address


def test_curve_needs_both_keys(tmp_path):
    with pytest.raises(ConfigError, match="CURVE needs both"):
        config("--curve-secret-key", str(tmp_path / "s.key_secret"))
