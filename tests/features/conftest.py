"""Fixtures of the feature tests: one parametrised test per real audio file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from feature_helpers import audio_files, load_clip


@pytest.fixture
def clip(shared_data: Path, audio_file: str) -> tuple[np.ndarray, int]:
    """The audio file named by the ``audio_file`` parameter (see pytest_generate_tests)."""
    return load_clip(str(shared_data / audio_file))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "audio_file" in metafunc.fixturenames:
        files = audio_files()
        metafunc.parametrize("audio_file", files, ids=files)
