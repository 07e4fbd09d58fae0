"""The emotion vocabulary: what users type after --emotions and what CSV corpora contain."""

import pytest

from ccser_core.emotions import CANONICAL, canonical, parse_emotions
from ccser_core.errors import EmotionError


@pytest.mark.parametrize("name", CANONICAL)
def test_canonical_names_map_to_themselves(name):
    assert canonical(name) == name
    assert canonical(f"  {name.upper()} ") == name


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("fearful", "fear"), ("anxiety", "fear"), ("Anxiety/Fear", "fear"),
        ("ps", "surprise"), ("pleasant surprise", "surprise"), ("Pleasant_Surprise", "surprise"),
        ("anger", "angry"), ("happiness", "happy"), ("sadness", "sad"),
        ("surprised", "surprise"), ("disgusted", "disgust"), ("bored", "boredom"),
    ],
)
def test_aliases_map_to_canonical_names(alias, expected):
    assert canonical(alias) == expected


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("AS", ("sad", "angry")),
        ("HNS", ("neutral", "happy", "sad")),
        ("AHNS", ("neutral", "happy", "sad", "angry")),
        ("AHNPS", ("neutral", "happy", "sad", "angry", "surprise")),
    ],
)
def test_presets_give_canonical_ordered_tuples(preset, expected):
    assert parse_emotions(preset) == expected


def test_comma_lists_accept_aliases_and_come_back_in_canonical_order():
    assert parse_emotions("anger, sadness,fearful,neutral") == ("neutral", "sad", "angry", "fear")
    assert parse_emotions("sad,angry") == parse_emotions("angry,sad") == parse_emotions("AS")


def test_repeated_names_count_once():
    assert parse_emotions("happy,happiness,sad") == ("happy", "sad")


@pytest.mark.parametrize("bad", ["grumpy", "happy,grumpy"])
def test_unknown_names_raise_emotion_error_naming_the_value(bad):
    with pytest.raises(EmotionError, match="grumpy"):
        parse_emotions(bad)


def test_unknown_single_name_is_named():
    with pytest.raises(EmotionError, match="'meh'"):
        canonical("meh")


@pytest.mark.parametrize("spec", ["", "  ", "angry", "anger,angry", "A"])
def test_fewer_than_two_distinct_emotions_is_an_error(spec):
    with pytest.raises(EmotionError):
        parse_emotions(spec)
