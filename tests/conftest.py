"""Shared fixtures: where the real test data lives, and the GPU marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (CI layout), overridable for other setups.
SHARED_DATA = Path(os.environ.get("TORCHMUSIC_SHARED_DATA", _REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found (set TORCHMUSIC_SHARED_DATA)")
    return SHARED_DATA


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist every worker is a process: with torch's default of one thread
    # per core, N workers oversubscribe the CPU and small convolutions slow ~100x.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
