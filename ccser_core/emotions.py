"""The emotion vocabulary: canonical names, aliases and presets (AS, HNS, ...)."""

from __future__ import annotations

from ccser_core.errors import EmotionError

#: Canonical emotion names, in the order used whenever no other order is given.
CANONICAL: tuple[str, ...] = (
    "neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise", "boredom",
)

ALIASES: dict[str, str] = {
    "neu": "neutral", "n": "neutral",
    "happiness": "happy", "joy": "happy", "h": "happy", "hap": "happy",
    "sadness": "sad", "s": "sad",
    "anger": "angry", "a": "angry", "ang": "angry", "mad": "angry",
    "fearful": "fear", "anxiety": "fear", "anxious": "fear", "afraid": "fear",
    "scared": "fear", "anxiety/fear": "fear",
    "disgusted": "disgust",
    "surprised": "surprise", "ps": "surprise", "pleasant surprise": "surprise",
    "pleasant_surprise": "surprise", "pleasant-surprise": "surprise",
    "bored": "boredom",
}

#: Presets named by the initials of their emotions (letters of CANONICAL names).
PRESET_LETTERS: dict[str, str] = {
    "A": "angry", "H": "happy", "N": "neutral", "S": "sad", "P": "surprise",
    "F": "fear", "D": "disgust", "C": "calm", "B": "boredom",
}


def canonical(name: str) -> str:
    """Map a name or alias (any case) to its canonical emotion name."""
    key = name.strip().lower()
    if key in CANONICAL:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise EmotionError(
        f"unknown emotion {name!r}; expected one of {', '.join(CANONICAL)} "
        f"(or an alias such as {', '.join(sorted(ALIASES)[:6])}, ...)"
    )


def listed_emotions(spec: str) -> tuple[str, ...]:
    """`--emotions` as the user listed it: a comma list of names/aliases or a preset
    like AHNS, canonical names in the given order, repeats dropped."""
    spec = spec.strip()
    if not spec:
        raise EmotionError("empty emotion list")
    if "," not in spec and spec.isupper() and all(c in PRESET_LETTERS for c in spec):
        names = [PRESET_LETTERS[c] for c in spec]
    else:
        names = [canonical(part) for part in spec.split(",") if part.strip()]
    unique = tuple(dict.fromkeys(names))
    if len(unique) < 2:
        raise EmotionError(f"need at least two distinct emotions, got {spec!r}")
    return unique


def parse_emotions(spec: str) -> tuple[str, ...]:
    """Parse `--emotions` into the model's classes.

    The returned order is the canonical order, which is also the model's
    output order, so the same set always gives the same class indices.
    """
    unique = set(listed_emotions(spec))
    return tuple(e for e in CANONICAL if e in unique)


def initials(emotions: tuple[str, ...] | list[str]) -> str:
    """The preset naming `emotions` in their order (angry, sad -> "AS"; surprise is P)."""
    letter = {name: c for c, name in PRESET_LETTERS.items()}
    return "".join(letter[e] for e in emotions)
