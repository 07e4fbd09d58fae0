"""--models parsing and the pipelines every model name builds."""

import pytest
from sklearn.pipeline import Pipeline

from training.models import ALL_MODELS, MODELS, make_pipeline, parse_models


def test_names_are_lowercased_stripped_and_deduplicated_in_order():
    assert parse_models(" SVC, rf ,svc,logreg,") == ("svc", "rf", "logreg")


@pytest.mark.parametrize("spec", ["svm", "svc,xgboost"])
def test_unknown_model_is_named_with_the_choices(spec):
    with pytest.raises(ValueError) as err:
        parse_models(spec)
    bad = spec.split(",")[-1]
    assert bad in str(err.value)
    assert all(name in str(err.value) for name in ALL_MODELS)


@pytest.mark.parametrize("spec", ["", " , "])
def test_empty_model_list_is_an_error(spec):
    with pytest.raises(ValueError, match="choose from"):
        parse_models(spec)


def test_stacking_needs_another_model():
    with pytest.raises(ValueError, match="stacking"):
        parse_models("stacking")
    assert parse_models("svc,logreg,stacking") == ("svc", "logreg", "stacking")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_builds_a_pipeline_whose_grid_keys_exist(name):
    spec = MODELS[name]
    pipe = make_pipeline(spec.build(True, 0), select_k=5, pca=3)
    assert isinstance(pipe, Pipeline)
    assert [s for s, _ in pipe.steps] == ["scale", "select", "pca", "clf"]
    params = pipe.get_params()
    assert all(f"clf__{k}" in params for k in spec.grid)
    assert spec.balancing in ("class_weight", "sample_weight", "oversample")
