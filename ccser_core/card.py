"""The model card (model.json): read with a size cap, validate against
`schema/card.schema.json`, and tie it to its `model.onnx`.

The card decides what every output of the ONNX model means (`emotions` in
output order) and how its input is made (features, normalisation prior), so a
card edited by hand, or copied next to another model's ONNX file, silently
changes every prediction. `write_model_folder` therefore stores a digest of the
card fields that change predictions inside the ONNX file (metadata, covered by
the card's `onnx_sha256`), and the loader refuses a card whose fields no longer
match it. Every refusal is one line naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ccser_core.errors import ModelError

#: A card is a few tens of kB; anything far larger is not a card and is not read whole.
MAX_CARD_BYTES = 4 << 20
#: Card fields that change what the model predicts. Descriptive blocks (metrics,
#: training, classifier, model_id, ...) may be edited freely.
PREDICTION_FIELDS = ("emotions", "feature_config", "feature_fingerprint", "n_features",
                     "sample_rate", "normalisation", "input", "speech_gate", "experts", "fusion")
#: ONNX metadata keys written by `tag_onnx`.
DIGEST_KEY = "ccser.card_digests"
EMOTIONS_KEY = "ccser.emotions"


@lru_cache(maxsize=1)
def card_schema() -> dict:
    return json.loads(resources.files("ccser_core").joinpath("schema/card.schema.json").read_text())


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = card_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


class _NonFinite:
    """What `NaN`/`Infinity` (not JSON, but accepted by Python's parser) become when a
    card is read: no schema type matches, so a strict field holding one is named."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def read_card(path: Path) -> dict:
    """Read a card (a JSON object of at most MAX_CARD_BYTES); `validate_card` checks it."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > MAX_CARD_BYTES:
        raise ModelError(f"{path}: larger than {MAX_CARD_BYTES >> 20} MiB; not a model card")
    try:
        card = json.loads(data.decode("utf-8"), parse_constant=_NonFinite)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from exc
    except RecursionError:
        raise ModelError(f"{path}: not a model card (JSON nested too deeply)") from None
    if not isinstance(card, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return card


def validate_card(card: dict, where: Path) -> None:
    """Schema first, then what JSON Schema cannot say: prior lengths equal
    `n_features`, and every number that reaches a prediction is finite."""
    errors = sorted(_validator().iter_errors(card),
                    key=lambda e: (len(e.path), [str(p) for p in e.path]))
    if errors:
        error = errors[0]
        field = _field_name(error.path)
        raise ModelError(f"{where}: {field + ': ' if field else ''}{_describe(error)}")
    n = card["n_features"]
    prior = card["normalisation"].get("prior")
    if prior is not None:
        for key in ("mean", "var"):
            if len(prior[key]) != n:
                raise ModelError(f"{where}: n_features {n} but normalisation.prior.{key} has "
                                 f"{len(prior[key])} values")
        _finite(prior["mean"], where, "normalisation.prior.mean")
        _finite(prior["var"], where, "normalisation.prior.var")
        _finite([prior["weight"]], where, "normalisation.prior.weight")
        outside = [i for i in prior.get("anchored", []) if i >= n]
        if outside:
            raise ModelError(f"{where}: normalisation.prior.anchored has index {outside[0]}, "
                             f"beyond n_features {n}")
    for key, value in card.get("speech_gate", {}).items():
        _finite([value], where, f"speech_gate.{key}")


def _finite(values: list, where: Path, field: str) -> None:
    for i, v in enumerate(values):
        if not math.isfinite(v):
            raise ModelError(f"{where}: {field}{f'[{i}]' if len(values) > 1 else ''} is {v}, "
                             "not a finite number")


def _field_name(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_WORDS = {"object": "an object", "array": "a list", "string": "a string",
               "number": "a number", "integer": "an integer", "boolean": "true or false"}


def _describe(error: Any) -> str:
    """One short phrase per schema keyword, never the whole (possibly huge) value."""
    kind, want, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        return f"must be {_TYPE_WORDS.get(want, want)}, got {_short(value)}"
    if kind == "required":
        missing = [k for k in want if k not in value]
        return f"missing key(s) {', '.join(missing)}"
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        return f"unknown key(s) {', '.join(sorted(k for k in value if k not in known))}"
    if kind == "minItems":
        return f"needs at least {want} items, has {len(value)}"
    if kind == "maxItems":
        return f"allows at most {want} items, has {len(value)}"
    if kind == "uniqueItems":
        return "lists an item more than once"
    if kind == "enum":
        return f"must be one of {', '.join(map(_short, want))}; got {_short(value)}"
    if kind == "const":
        return f"must be {_short(want)}; got {_short(value)} (not supported by this ccser)"
    return error.message if len(error.message) <= 120 else error.message[:117] + "..."


def prediction_digests(card: dict) -> dict[str, str]:
    """sha256 of each prediction field present in the card (canonical JSON)."""
    return {f: hashlib.sha256(json.dumps(card[f], sort_keys=True, separators=(",", ":"),
                                         default=str).encode()).hexdigest()
            for f in PREDICTION_FIELDS if f in card}


def tag_onnx(onnx_bytes: bytes, card: dict) -> bytes:
    """`onnx_bytes` with the card's prediction digests (and emotions, for messages) in
    its metadata. Bytes that are not an ONNX model are returned as they are: the
    loader refuses them anyway."""
    import onnx

    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception:  # protobuf raises several types for non-ONNX bytes
        return onnx_bytes
    keep = [p for p in model.metadata_props if not p.key.startswith("ccser.")]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in ((DIGEST_KEY, json.dumps(prediction_digests(card), sort_keys=True)),
                       (EMOTIONS_KEY, json.dumps(card["emotions"]))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model.SerializeToString()


def check_tie(card: dict, metadata: dict[str, str], card_path: Path, onnx_path: Path) -> None:
    """Refuse a card whose prediction fields differ from those `onnx_path` was written with."""
    try:
        expected = json.loads(metadata[DIGEST_KEY])
        if not isinstance(expected, dict):
            raise ValueError
    except KeyError:
        raise ModelError(f"{onnx_path}: carries no digest of its card (not written by this "
                         "ccser's exporter); re-export the model") from None
    except ValueError:
        raise ModelError(f"{onnx_path}: its card digest is damaged; re-export the model") from None
    actual = prediction_digests(card)
    for field in PREDICTION_FIELDS:
        if expected.get(field) == actual.get(field):
            continue
        detail = ""
        if field == "emotions":
            try:
                outputs = json.loads(metadata[EMOTIONS_KEY])
                detail = (f" (the model outputs {', '.join(map(str, outputs))} in that order; "
                          f"the card says {', '.join(map(str, card['emotions']))})")
            except (KeyError, ValueError, TypeError):
                pass
        what = (f"is missing, but {onnx_path.name} was exported with one" if field not in card
                else f"differs from the one {onnx_path.name} was exported with")
        raise ModelError(f"{card_path}: {field} {what}{detail}; the card was edited or "
                         "belongs to another model")
