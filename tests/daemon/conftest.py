"""Daemon test fixtures: a small model folder built from synthetic vectors."""

from pathlib import Path

import pytest
from daemon_helpers import build_model


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("models") / "test_model")
