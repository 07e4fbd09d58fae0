"""Read and rewrite CTranslate2's `model.bin` (binary version 6), without the runtime.

CTranslate2 returns only the encoder's last layer. Its model file is a flat
list of named tensors, and the runtime builds as many encoder layers as the
file holds, so a copy without the layers above k is an encoder whose output is
layer k (then the final layer norm): intermediate layers without running the
network by hand. Layout (ctranslate2/specs/model_spec.py `_serialize`):
u32 version, str name, u32 revision, u32 count, then per variable str name,
u8 rank, u32 dims[rank], u8 dtype, u32 nbytes, data; then u32 n aliases and
(str alias, str target) pairs. str = u16 length (with NUL), bytes, NUL.
"""

from __future__ import annotations

import re
import struct

from ccser_core.errors import ModelError

SUPPORTED_VERSIONS = (5, 6)
_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/")


def _split(data: bytes) -> tuple[bytes, list[tuple[str, bytes]], bytes]:
    """(header before the count, [(name, raw record)], trailer of aliases)."""
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(data):
            raise ModelError("CTranslate2 model.bin ends early (truncated download?)")
        out = struct.unpack_from(fmt, data, pos)
        pos += size
        return out

    def string() -> str:
        nonlocal pos
        (n,) = take("<H")
        pos += n
        return data[pos - n:pos - 1].decode("utf-8", "replace")

    (version,) = take("<I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(f"CTranslate2 model.bin version {version} is not supported "
                         f"(expected one of {SUPPORTED_VERSIONS})")
    string()
    take("<I")
    header = data[:pos]
    (count,) = take("<I")
    records = []
    for _ in range(count):
        start = pos
        name = string()
        (rank,) = take("<B")
        take(f"<{rank}I")
        take("<B")
        (nbytes,) = take("<I")
        pos += nbytes
        if pos > len(data):
            raise ModelError(f"CTranslate2 model.bin: variable {name} is truncated")
        records.append((name, data[start:pos]))
    return header, records, data[pos:]


def layer_counts(data: bytes) -> dict[str, int]:
    """{"encoder": n, "decoder": m} layers in a model file."""
    counts = {"encoder": 0, "decoder": 0}
    for name, _ in _split(data)[1]:
        m = _LAYER.match(name)
        if m:
            counts[m[1]] = max(counts[m[1]], int(m[2]) + 1)
    return counts


def truncate(data: bytes, encoder_layers: int, decoder_layers: int = 1) -> bytes:
    """The model file with only the first `encoder_layers` encoder layers (its output is
    that layer, then the final layer norm) and `decoder_layers` decoder layers (unused by
    an encoder-only caller; kept so the runtime can build the model)."""
    header, records, trailer = _split(data)
    keep = {"encoder": encoder_layers, "decoder": decoder_layers}

    def kept(name: str) -> bool:
        m = _LAYER.match(name)
        return m is None or int(m[2]) < keep[m[1]]

    chosen = [raw for name, raw in records if kept(name)]
    return header + struct.pack("<I", len(chosen)) + b"".join(chosen) + trailer
