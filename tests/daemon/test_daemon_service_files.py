"""The systemd unit and the example config shipped in systemd/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.config import DaemonConfig, read_toml

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD / "ccserd.service"


def test_unit_declares_notify_watchdog_and_hardening():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "SupplementaryGroups=audio",
                 "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes",
                 "PrivateTmp=yes",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
                 "ExecStart=/opt/ccser/bin/ccserd --config /etc/ccser/ccserd.toml"):
        assert line in text, line


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_analyze_verify(tmp_path):
    """verify needs ExecStart to exist, so point it at this environment's ccserd."""
    ccserd = Path(sys.executable).with_name("ccserd")
    if not ccserd.exists():
        pytest.skip(f"{ccserd} not installed")
    unit = tmp_path / "ccserd.service"
    unit.write_text(UNIT.read_text().replace("/opt/ccser/bin/ccserd", str(ccserd)))
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ccserd.service" not in proc.stderr, proc.stderr


def test_example_config_is_valid():
    values = read_toml(SYSTEMD / "ccserd.toml")
    config = DaemonConfig(**values)
    assert config.publish == "tcp://127.0.0.1:5556"
