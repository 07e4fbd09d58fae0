"""Who may subscribe: CURVE for anything beyond loopback (issue 9.2) and ipc:// sockets
with set permissions that a second daemon cannot take over (issue 9.3)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from daemon_helpers import (
    Collector,
    ccserd,
    free_address,
    silence,
    speech_like,
    wait_running,
    write_wav,
)

from ccser_core.client import subscribe
from ccser_core.curve import load_key_pair, load_public_key
from ccser_core.events import UtteranceEvent


def generate(folder: Path, name: str) -> tuple[Path, Path]:
    proc = ccserd("--generate-keys", str(folder), "--key-name", name)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return folder / f"{name}.key", folder / f"{name}.key_secret"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    server_pub, server_secret = generate(root / "server", "server")
    client_pub, client_secret = generate(root / "client", "laptop")
    _, stranger_secret = generate(root / "stranger", "stranger")
    authorized = root / "authorized"
    authorized.mkdir()
    (authorized / "laptop.key").write_bytes(client_pub.read_bytes())
    return dict(server_pub=server_pub, server_secret=server_secret, client_secret=client_secret,
                stranger_secret=stranger_secret, authorized=authorized)


def test_generate_keys_writes_a_usable_pair_with_a_private_secret(keys):
    pair = load_key_pair(keys["server_secret"])
    assert load_public_key(keys["server_pub"]) == pair.public
    assert stat.S_IMODE(keys["server_secret"].stat().st_mode) == 0o600
    proc = ccserd("--generate-keys", str(keys["server_pub"].parent), "--key-name", "server")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "already exists" in err  # never overwrites a key


class Silent:
    """A subscriber that must receive nothing; counts what it gets."""

    def __init__(self, address: str, **curve: Path) -> None:
        self.events: list = []
        self._thread = threading.Thread(target=self._run, args=(address,), kwargs=curve,
                                        daemon=True)
        self._thread.start()

    def _run(self, address: str, **curve: Path) -> None:
        self.events.extend(subscribe(address, timeout_s=8, **curve))

    def join(self) -> list:
        self._thread.join(30)
        return self.events


def test_curve_on_all_interfaces_only_authorized_clients_receive(model_dir, keys, tmp_path):
    port = free_address().rsplit(":", 1)[1]
    wav = write_wav(tmp_path / "s.wav", silence(0.5), speech_like(2.0), silence(0.8))
    local = f"tcp://127.0.0.1:{port}"
    friend = Collector(local, curve_server_key=keys["server_pub"],
                       curve_secret_key=keys["client_secret"])
    stranger = Silent(local, curve_server_key=keys["server_pub"],
                      curve_secret_key=keys["stranger_secret"])
    anonymous = Silent(local)
    proc = ccserd("--model", str(model_dir), "--source", str(wav), "--no-realtime",
                  "--publish", f"tcp://*:{port}",
                  "--curve-secret-key", str(keys["server_secret"]),
                  "--curve-authorized-keys", str(keys["authorized"]),
                  "--wait-subscribers", "1", "--wait-timeout", "20")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = friend.join()
    assert any(isinstance(e, UtteranceEvent) for e in events)
    assert events[-1].type == "status" and events[-1].state == "stopping"
    assert stranger.join() == [] and anonymous.join() == []
    assert "not authorized" in err  # the refused stranger is logged


def test_non_loopback_bind_without_curve_is_refused(model_dir, tmp_path):
    wav = write_wav(tmp_path / "q.wav", silence(0.5))
    port = free_address().rsplit(":", 1)[1]
    for address in (f"tcp://0.0.0.0:{port}", f"tcp://*:{port}"):
        proc = ccserd("--model", str(model_dir), "--source", str(wav), "--publish", address)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and "reachable from other machines" in err, err
        assert "Traceback" not in err


def test_unusable_key_files_are_named(model_dir, keys, tmp_path):
    wav = write_wav(tmp_path / "q.wav", silence(0.5))
    empty = tmp_path / "nobody"
    empty.mkdir()
    cases = [
        (keys["server_pub"], keys["authorized"], "holds only a public key"),
        (tmp_path / "none.key_secret", keys["authorized"], "key file does not exist"),
        (keys["server_secret"], empty, "no client public keys"),
    ]
    for secret, folder, message in cases:
        proc = ccserd("--model", str(model_dir), "--source", str(wav),
                      "--publish", free_address(), "--curve-secret-key", str(secret),
                      "--curve-authorized-keys", str(folder))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and message in err, err


def test_ccser_listen_uses_curve_keys(model_dir, keys, tmp_path):
    port = free_address().rsplit(":", 1)[1]
    wav = write_wav(tmp_path / "s.wav", silence(0.3), speech_like(1.0), silence(0.5))
    listen = subprocess.Popen(
        [sys.executable, "-m", "daemon.listen_cli", "--connect", f"tcp://127.0.0.1:{port}",
         "--json", "--count", "1", "--timeout", "30",
         "--curve-server-key", str(keys["server_pub"]),
         "--curve-secret-key", str(keys["client_secret"])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = ccserd("--model", str(model_dir), "--source", str(wav), "--no-realtime",
                  "--publish", f"tcp://0.0.0.0:{port}",
                  "--curve-secret-key", str(keys["server_secret"]),
                  "--curve-authorized-keys", str(keys["authorized"]), "--wait-subscribers", "1")
    out, err = listen.communicate(timeout=60)
    proc.communicate(timeout=60)
    assert listen.returncode == 0, err
    assert '"type": "status"' in out


# --- ipc:// --------------------------------------------------------------------------------

def start_on_stdin(model_dir: Path, address: str, *extra: str, umask: int = 0o077):
    """A daemon on raw PCM from a pipe we keep open: it runs until we close stdin."""
    proc = ccserd("--model", str(model_dir), "--source", "-", "--publish", address, *extra,
                  stdin=subprocess.PIPE, umask=umask)
    wait_running(proc)
    return proc


def stop(proc: subprocess.Popen) -> str:
    proc.stdin.close()
    proc.wait(timeout=30)
    return proc.stderr.read()


def test_ipc_mode_sets_socket_permissions_under_a_strict_umask(model_dir, tmp_path):
    path = tmp_path / "events.sock"
    proc = start_on_stdin(model_dir, f"ipc://{path}", "--ipc-mode", "0660")
    try:
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_default_ipc_mode_is_owner_only(model_dir, tmp_path):
    path = tmp_path / "events.sock"
    proc = start_on_stdin(model_dir, f"ipc://{path}", umask=0o022)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        stop(proc)


def test_second_daemon_on_a_live_ipc_path_is_refused(model_dir, tmp_path):
    path = tmp_path / "events.sock"
    address = f"ipc://{path}"
    first = start_on_stdin(model_dir, address)
    try:
        wav = write_wav(tmp_path / "q.wav", silence(0.5))
        second = ccserd("--model", str(model_dir), "--source", str(wav), "--publish", address)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        assert "held by a running process" in err
        # the first daemon still owns the path: a new subscriber reaches it
        events = []
        for event in subscribe(address, topics=["status"], timeout_s=10):
            events.append(event)
            break
        assert events and events[0].type == "status"
    finally:
        stop(first)


def test_stale_ipc_socket_file_is_replaced(model_dir, tmp_path):
    path = tmp_path / "events.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # bound, never listening: what a crashed daemon leaves
    proc = start_on_stdin(model_dir, f"ipc://{path}")
    stop(proc)
    assert proc.returncode == 0


def test_ipc_path_that_is_not_a_socket_is_left_alone(model_dir, tmp_path):
    path = tmp_path / "events.sock"
    path.write_text("precious")
    wav = write_wav(tmp_path / "q.wav", silence(0.5))
    proc = ccserd("--model", str(model_dir), "--source", str(wav), "--publish", f"ipc://{path}")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "exists and is not a socket" in err
    assert path.read_text() == "precious"


def test_other_users_can_connect_with_ipc_mode_0666(model_dir):
    """Another user connects when ipc_mode allows it, and not with the default
    (needs root to run the client as another user; skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as another user")
    folder = Path(tempfile.mkdtemp(prefix="ccser-ipc-"))
    folder.chmod(0o755)
    path = folder / "events.sock"

    def other_user_can_connect() -> bool:
        pid = os.fork()
        if pid == 0:  # child: become nobody, try the connection, report by exit status
            code = 2
            try:
                os.setgid(65534)
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.connect(str(path))
                code = 0
            except PermissionError:
                code = 1
            finally:
                os._exit(code)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0

    try:
        for mode, allowed in (("0666", True), ("0600", False)):
            proc = start_on_stdin(model_dir, f"ipc://{path}", "--ipc-mode", mode)
            try:
                assert other_user_can_connect() is allowed, mode
            finally:
                stop(proc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
