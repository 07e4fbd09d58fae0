"""Cut encoders, built once into the user's cache and keyed by the weights' sha256.

Loading from the package means reading the full weights (145 MB for base), cutting
them to the chosen layer in memory and handing the runtime a copy: about 400 MB at
peak. The cut model written once to a folder loads in a fraction of that (the daemon's
budget is 400 MB in all). An entry is named by encoder, full-weights sha256 and layer,
and holds the cut `model.bin` with its own sha256 (checked on every load), so other
weights or a damaged file never load from it. A cache that cannot be written (a
read-only home under systemd) only costs memory: loading falls back to memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

ENV = "CCSER_ENCODER_CACHE"  # overrides the folder
META = "ccser-encoder.json"
FORMAT = 2  # of an entry: the cut model (layers, and the decoder's vocabulary)


def cache_root() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ccser" / "encoders"


def entry(name: str, sha256: str, layer: int) -> Path:
    return cache_root() / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{sha256[:16]}-L{layer}"


def read(name: str, sha256: str, layer: int) -> tuple[Path, dict] | None:
    """(folder, its metadata) of a valid entry, else None."""
    folder = entry(name, sha256, layer)
    try:
        meta = json.loads((folder / META).read_text())
        if (meta.get("sha256"), meta.get("layer"), meta.get("format")) != (sha256, layer, FORMAT):
            return None
        digest = hashlib.sha256()
        with (folder / "model.bin").open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
        return (folder, meta) if digest.hexdigest() == meta.get("cut_sha256") else None
    except (OSError, ValueError):
        return None


def write(name: str, sha256: str, layer: int, cut: bytes, extras: dict[str, bytes],
          meta: dict) -> Path | None:
    """Write an entry atomically (a temporary folder renamed into place); None if the
    cache cannot be written."""
    folder = entry(name, sha256, layer)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            (tmp / "model.bin").write_bytes(cut)
            for file, data in extras.items():
                (tmp / file).write_bytes(data)
            info = {**meta, "sha256": sha256, "layer": layer, "format": FORMAT,
                    "cut_sha256": hashlib.sha256(cut).hexdigest()}
            (tmp / META).write_text(json.dumps(info, indent=1))
            if read(name, sha256, layer) is not None:  # built meanwhile by another process
                return folder
            if folder.exists():  # damaged or stale: another process may be reading it,
                stale = folder.with_name(f".{folder.name}.old-{os.getpid()}")  # so move it
                os.replace(folder, stale)
                shutil.rmtree(stale, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder
    except OSError:  # read-only, or built by another process at the same moment
        return folder if read(name, sha256, layer) is not None else None
