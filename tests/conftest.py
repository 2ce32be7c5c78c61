"""Shared fixtures: where the real test data lives, the GPU marker, and CI's no-skip rule.

Outside CI a test whose data (``../shared/data``) or Debian package (FluidSynth and a
soundfont, hydrogen-drumkits) is missing skips with the reason. Under CI (``CI`` set
to ``true``/``1``/``yes``, as ``.ci/run`` does) such a skip is a failure instead, so a CI
run cannot pass by skipping what users run; skips for other reasons (no CUDA device,
running as root) stay skips.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (CI layout), overridable for other setups.
SHARED_DATA = Path(os.environ.get("TORCHMUSIC_SHARED_DATA", _REPO.parent / "shared" / "data"))
#: Under CI nothing the tests need may be missing.
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
# Skip reasons that mean "test data or a package CI installs is missing".
_CI_REQUIRED = re.compile(
    r"shared/data|shared data|TORCHMUSIC_SHARED_DATA|Last\.fm-2k|fluidsynth|soundfont|"
    r"hydrogen-drumkits|shipped .*(model|classifier).* not installed|is not installed",
    re.IGNORECASE,
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skips the test when it is absent (fails under CI)."""
    if not SHARED_DATA.is_dir():
        message = f"{SHARED_DATA} not found (set TORCHMUSIC_SHARED_DATA)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}; CI must have ../shared/data", pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Under CI, a skip for missing test data or a missing package is a failure."""
    outcome = yield
    report = outcome.get_result()
    if not (IN_CI and report.skipped) or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    if _CI_REQUIRED.search(reason):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: this test may not skip ({reason}); install what it needs "
            "(make system-deps) and provide ../shared/data"
        )


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
