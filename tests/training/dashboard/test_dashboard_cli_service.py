"""ccser-dashboard's flags (loopback by default, remote only with a token) and its
systemd unit (hardened like ccserd's, verified by systemd-analyze where installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training.dashboard import cli
from training.dashboard.config import is_loopback, parse_http

SYSTEMD = Path(__file__).resolve().parents[3] / "systemd"
UNIT = SYSTEMD / "ccser-dashboard.service"
#: Sandboxing directives: every one ccserd.service sets, the dashboard's unit sets too.
HARDENING = ("DynamicUser", "NoNewPrivileges", "Protect", "Private", "Restrict", "LockPersonality",
             "MemoryDenyWriteExecute", "SystemCall", "CapabilityBoundingSet", "AmbientCapabilities",
             "UMask", "IPAddress", "ProcSubset", "DevicePolicy")
#: Values that differ on purpose: ccserd needs netlink and real-time scheduling for
#: audio; a training run may JIT-compile (numba), which needs writable+executable memory.
DIFFERENT = {"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "RestrictRealtime": "yes",
             "MemoryDenyWriteExecute": "no"}


def config(*argv: str):
    return cli.config_from_args(cli.build_parser().parse_args(list(argv)))


def test_defaults_are_the_issue_addresses_and_loopback():
    cfg = config()
    assert (cfg.host, cfg.port, cfg.connect) == ("127.0.0.1", 8765, "tcp://127.0.0.1:5556")
    assert cfg.token == "" and cfg.output_dir == Path("exported_models")
    cfg = config("--connect", "tcp://127.0.0.1:6000", "--http", "127.0.0.1:9000",
                 "--models-dir", "a", "--models-dir", "b")
    assert (cfg.port, cfg.connect, cfg.models_dirs) == (9000, "tcp://127.0.0.1:6000",
                                                         (Path("a"), Path("b")))


def test_http_addresses():
    assert parse_http("[::1]:80") == ("::1", 80) and parse_http(":9000") == ("127.0.0.1", 9000)
    for bad in ("localhost", "127.0.0.1:0", "127.0.0.1:http"):
        with pytest.raises(ValueError, match="expected HOST:PORT"):
            parse_http(bad)
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


def test_a_remote_address_needs_allow_remote_and_a_token(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("CCSER_DASHBOARD_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--http", "0.0.0.0:8765"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--allow-remote" in err and "Traceback" not in err
    cfg = config("--http", "0.0.0.0:8765", "--allow-remote", "--token-file", str(tmp_path / "t"))
    assert len(cfg.token) >= 20 and cfg.token not in cli.page_url(cfg)


def test_bad_flags_are_one_line_errors(capsys, tmp_path):
    for argv, message in ((["--connect", "127.0.0.1:5556"], "expected tcp://HOST:PORT"),
                          (["--max-upload-mb", "0"], "--max-upload-mb must be"),
                          (["--corpus-dir", str(tmp_path / "nope")], "not a folder")):
        with pytest.raises(SystemExit):
            cli.main(argv)
        assert message in capsys.readouterr().err


def directives(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_unit_is_hardened_like_the_daemon_and_serves_loopback_only():
    ours, daemon = directives(UNIT), directives(SYSTEMD / "ccserd.service")
    hardening = [k for k in daemon if k.startswith(HARDENING)]
    assert len(hardening) >= 15
    for key in hardening:
        want = [DIFFERENT[key]] if key in DIFFERENT else daemon[key]
        got = ours.get(key, [])  # repeated keys (SystemCallFilter) may add to ccserd's
        assert got and set(want) <= set(got), f"{key}: ccserd has {daemon[key]}, dashboard {got}"
    assert "SupplementaryGroups" not in ours and "DeviceAllow" not in ours  # no audio devices
    assert ours["PrivateTmp"] == ["yes"]  # uploads are only ever written to /tmp
    start = ours["ExecStart"][0]
    assert "--http 127.0.0.1:8765" in start and "--allow-remote" not in start


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_analyze_verify(tmp_path):
    """verify needs ExecStart to exist, so point it at this environment's ccser-dashboard."""
    exe = Path(sys.executable).with_name("ccser-dashboard")
    if not exe.exists():
        pytest.skip(f"{exe} not installed")
    unit = tmp_path / "ccser-dashboard.service"
    unit.write_text(UNIT.read_text().replace("/opt/ccser/bin/ccser-dashboard", str(exe)))
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ccser-dashboard.service" not in proc.stderr, proc.stderr


def test_a_missing_ccser_corpora_folder_only_hides_the_train_panel(monkeypatch, tmp_path):
    """$CCSER_CORPORA is a default (a fresh clone has no ../shared/corpora): a folder that
    is not there means no Train panel, not a failed start."""
    monkeypatch.setenv("CCSER_CORPORA", str(tmp_path / "absent"))
    assert config().corpus_dir is None
    monkeypatch.setenv("CCSER_CORPORA", str(tmp_path))
    assert config().corpus_dir == tmp_path
