"""Every ccser program answers a usage error with one line (the error, and where the
rest is: --help) and exit status 2, not the whole usage block."""

import subprocess
import sys

import pytest

MODULES = {"ccser-train": "training.cli", "ccser-predict": "training.predict_cli",
           "ccserd": "daemon.cli", "ccser-listen": "daemon.listen_cli",
           "ccser-proxy": "daemon.proxy_cli", "ccser-dashboard": "training.dashboard.cli"}


@pytest.mark.parametrize("prog", sorted(MODULES))
def test_a_usage_error_is_one_line_pointing_at_help(prog):
    code = (f"import sys; sys.argv = [{prog!r}, '--no-such-flag']; "
            f"from {MODULES[prog]} import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{prog}: error:") and f"see {prog} --help" in lines[0]
