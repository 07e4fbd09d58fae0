"""Session kinds (test) and simulated sessions (training): what each session holds."""

import numpy as np
import pytest

from ccser_core.normalisation import Prior
from training.sessions import KINDS, evaluate_sessions, kind_sessions, simulated_sessions

# Two speakers; speaker a: 40 angry (0), 6 neutral (2), 5 sad (3); speaker b: 3 of each of 4.
Y = np.array([0] * 40 + [2] * 6 + [3] * 5 + [0, 1, 2, 3] * 3)
SPK = np.array(["a"] * 51 + ["b"] * 12)


def sessions(kind, seed=0):
    return kind_sessions(kind, Y, SPK, 2, np.random.default_rng(seed))


def test_balanced_is_every_file_of_a_speaker_once_in_a_seeded_order():
    got = sessions("balanced")
    assert [sorted(s) for s in got] == [list(range(51)), list(range(51, 63))]
    assert [list(s) for s in got] == [list(s) for s in sessions("balanced")]
    assert list(got[0]) != list(range(51))  # shuffled


def test_single_is_one_emotion_per_session_at_most_30_files():
    got = sessions("single")
    assert len(got) == 3 + 4
    for s in got:
        assert len(set(Y[s])) == 1 and len(set(SPK[s])) == 1
    assert max(len(s) for s in got) == 30


def test_neutral_dominant_is_all_neutral_files_and_every_fourth_other():
    got = sessions("neutral_dominant")
    a = got[0]
    assert np.sum(Y[a] == 2) == 6 and len(a) == 6 + len(range(0, 45, 4))
    assert kind_sessions("neutral_dominant", Y, SPK, None, np.random.default_rng(0)) == []


def test_cold_is_every_file_alone():
    got = sessions("cold")
    assert len(got) == len(Y) and all(len(s) == 1 for s in got)


class _Oracle:
    """Predicts class 0 (angry) when the first input is above 0.5, else 3 (sad)."""

    def predict(self, X):
        return np.where(X[:, 0] > 0.5, 0, 3)


def test_evaluate_sessions_plays_the_live_rule_and_names_the_worst_kind():
    # One feature: angry files sit at +1, sad at -1 (neutral/happy are absent here).
    y = np.array([0] * 10 + [3] * 10)
    spk = np.array(["s"] * 20)
    X = np.where(y == 0, 1.0, -1.0)[:, None]
    prior = Prior(np.zeros(1), np.ones(1), 2.0)
    out = evaluate_sessions(_Oracle(), X, y, spk, prior, ["angry", "happy", "neutral", "sad"], 0)
    assert set(out) == {"balanced", "single", "cold", "worst"}  # no neutral files: no such kind
    assert out["cold"]["uar"] == pytest.approx(1.0)  # judged against the prior alone
    # A single-emotion session absorbs its own emotion: later files fall to the session mean.
    assert out["single"]["uar"] < 1.0
    assert out["worst"] == {"kind": "single", "uar": out["single"]["uar"]}
    assert out["single"]["per_class_recall"]["angry"] < 1.0


def test_simulated_sessions_mix_kinds_and_lengths_and_stay_within_a_speaker():
    got = simulated_sessions(Y, SPK, seed=1, per_speaker=40, max_len=20)
    assert len(got) == 80
    assert all(len(set(SPK[s])) == 1 for s in got)
    assert {len(s) for s in got} >= {1, 20}
    singles = [s for s in got if len(s) > 3 and len(set(Y[s])) == 1]
    mixed = [s for s in got if len(set(Y[s])) > 2]
    assert singles and mixed
    assert [list(s) for s in got] == [list(s) for s in simulated_sessions(Y, SPK, 1, 40, 20)]
    assert set(KINDS) == {"balanced", "single", "neutral_dominant", "cold"}
