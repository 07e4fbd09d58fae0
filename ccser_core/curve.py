"""ZeroMQ CURVE key files (the `zmq.auth` certificate format) for ccserd and its clients.

A key pair is two files: `NAME.key` (public key, safe to copy anywhere) and
`NAME.key_secret` (public + secret key, owner-only). The daemon reads its own
`.key_secret` and a folder of the `.key` files of the clients it accepts; a
client reads the daemon's `.key` and its own `.key_secret`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ccser_core.errors import CcserError

#: Length of a Z85-encoded CURVE key.
KEY_CHARS = 40


class CurveKeyError(CcserError):
    """A CURVE key file or folder is missing or malformed (names the file)."""


@dataclass(frozen=True)
class KeyPair:
    public: bytes
    secret: bytes


def _read(path: Path) -> tuple[bytes, bytes | None]:
    import zmq.auth

    if path.is_dir():
        raise CurveKeyError(f"{path}: is a directory, expected a key file")
    if not path.is_file():
        raise CurveKeyError(f"{path}: key file does not exist")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except OSError as exc:
        raise CurveKeyError(f"{path}: cannot read key file ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise CurveKeyError(f"{path}: no public-key line (not a zmq.auth certificate; "
                            "create one with `ccserd --generate-keys DIR`)") from exc
    for kind, key in (("public", public), ("secret", secret)):
        if key is not None and len(key) != KEY_CHARS:
            raise CurveKeyError(f"{path}: {kind} key is {len(key)} characters, "
                                f"expected {KEY_CHARS} (Z85)")
    return public, secret


def load_public_key(path: str | Path) -> bytes:
    """The public key in `path` (a `.key` file, or a `.key_secret` file)."""
    return _read(Path(path))[0]


def load_key_pair(path: str | Path) -> KeyPair:
    """Public and secret key from a `.key_secret` file."""
    path = Path(path)
    public, secret = _read(path)
    if secret is None:
        raise CurveKeyError(f"{path}: holds only a public key; give the .key_secret file")
    return KeyPair(public, secret)


def authorized_keys(folder: str | Path) -> list[bytes]:
    """Public keys of every `*.key` file in `folder`; the folder must hold at least one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CurveKeyError(f"{folder}: authorized-keys folder does not exist")
    keys = [load_public_key(p) for p in sorted(folder.glob("*.key"))]
    if not keys:
        raise CurveKeyError(f"{folder}: no client public keys (*.key files) in the "
                            "authorized-keys folder")
    return keys


def generate_key_pair(folder: str | Path, name: str) -> tuple[Path, Path]:
    """Write NAME.key (mode 0644) and NAME.key_secret (0600) into `folder`.

    Refuses to overwrite an existing pair. Returns (public file, secret file).
    """
    import zmq.auth

    folder = Path(folder)
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    if not name or "/" in name or name.startswith("."):
        raise CurveKeyError(f"{name!r}: not a usable key name")
    for path in (public, secret):
        if path.exists():
            raise CurveKeyError(f"{path}: already exists; not overwriting a key")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o077)  # the secret file never exists with wider permissions
        try:
            zmq.auth.create_certificates(folder, name)
        finally:
            os.umask(old)
        public.chmod(0o644)
    except OSError as exc:
        raise CurveKeyError(f"{folder}: cannot write keys ({exc.strerror or exc})") from exc
    return public, secret
