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


Record = tuple[str, tuple[int, ...], memoryview]  # name, shape, raw bytes of the record


def _split(data: bytes | bytearray) -> tuple[memoryview, list[Record], memoryview]:
    """(header before the count, [(name, shape, raw record)], trailer of aliases), as
    views into `data`: a 145 MB model is never copied to be read."""
    view = memoryview(data)
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
        return bytes(view[pos - n:pos - 1]).decode("utf-8", "replace")

    (version,) = take("<I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(f"CTranslate2 model.bin version {version} is not supported "
                         f"(expected one of {SUPPORTED_VERSIONS})")
    string()
    take("<I")
    header = view[:pos]
    (count,) = take("<I")
    records = []
    for _ in range(count):
        start = pos
        name = string()
        (rank,) = take("<B")
        shape = take(f"<{rank}I")
        take("<B")
        (nbytes,) = take("<I")
        pos += nbytes
        if pos > len(data):
            raise ModelError(f"CTranslate2 model.bin: variable {name} is truncated")
        records.append((name, tuple(shape), view[start:pos]))
    return header, records, view[pos:]


def layer_counts(data: bytes | bytearray) -> dict[str, int]:
    """{"encoder": n, "decoder": m} layers in a model file."""
    counts = {"encoder": 0, "decoder": 0}
    for name, _, _ in _split(data)[1]:
        m = _LAYER.match(name)
        if m:
            counts[m[1]] = max(counts[m[1]], int(m[2]) + 1)
    return counts


def _rows(raw: memoryview, shape: tuple[int, ...], rows: list[int]) -> bytes:
    """A 2-D variable's record with only `rows` (same name and dtype)."""
    (n,) = struct.unpack_from("<H", raw, 0)
    start = 2 + n + 1 + 4 * len(shape)  # name, rank, dims
    dtype = raw[start]
    data = raw[start + 5:]
    width = len(data) // shape[0]
    body = b"".join(data[r * width:(r + 1) * width] for r in rows)
    return b"".join([bytes(raw[:3 + n - 1]), struct.pack("<B", 2),
                     struct.pack("<2I", len(rows), shape[1]), struct.pack("<B", dtype),
                     struct.pack("<I", len(body)), body])


def truncate(data: bytes | bytearray, encoder_layers: int, decoder_layers: int = 1,
             token_rows: list[int] | None = None) -> bytes:
    """The model file with only the first `encoder_layers` encoder layers (its output is
    that layer, then the final layer norm) and `decoder_layers` decoder layers (unused by
    an encoder-only caller; kept so the runtime can build the model). `token_rows`: keep
    only these rows of the decoder's token embedding (51865 x 512 for base, two thirds of
    the file), with a vocabulary of the same tokens: the encoder's output is unchanged."""
    header, records, trailer = _split(data)
    keep = {"encoder": encoder_layers, "decoder": decoder_layers}

    def kept(name: str) -> bool:
        m = _LAYER.match(name)
        return m is None or int(m[2]) < keep[m[1]]

    chosen = [_rows(raw, shape, token_rows) if token_rows is not None and
              name == "decoder/embeddings/weight" else raw
              for name, shape, raw in records if kept(name)]
    return b"".join([header, struct.pack("<I", len(chosen)), *chosen, trailer])


def encoder_width(data: bytes | bytearray) -> int:
    """Width of one encoder frame (the first convolution's output channels)."""
    for name, shape, _ in _split(data)[1]:
        if name == "encoder/conv1/bias":
            return int(shape[0])
    raise ModelError("CTranslate2 model.bin has no encoder/conv1/bias: not a Whisper model")
