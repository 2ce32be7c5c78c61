"""Synthesised audio folders for the catalog tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from catalog_helpers import write_tones

FREQS = [110.0, 130.0, 220.0, 260.0, 440.0, 520.0, 880.0, 1040.0]


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="package")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audio")
    write_tones(folder, FREQS)
    return folder
