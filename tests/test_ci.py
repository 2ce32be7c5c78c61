"""CI tests what users run: no silent skips under CI=true, the packages the tests need are
installed by `make test`, configs/gtzan.yaml honours TORCHMUSIC_SHARED_DATA, and
`make bench` has a runner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import pytest

@pytest.mark.skipif(True, reason="Debian package hydrogen-drumkits absent")
def test_package_missing():
    pass

def test_renderer_missing():
    pytest.skip("needs fluidsynth and a GM soundfont")

def test_shared_data(shared_data):
    pass

def test_other_reason():
    pytest.skip("no CUDA device")
"""


def _run_probe(tmp_path: Path, ci: str) -> str:
    (tmp_path / "test_probe.py").write_text(_PROBE)
    env = dict(os.environ, CI=ci, TORCHMUSIC_SHARED_DATA=str(tmp_path / "no-shared-data"))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), env.get("PYTHONPATH", "")])
    env.pop("PYTEST_XDIST_WORKER", None)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q",
         "-rA", "-p", "no:xdist", str(tmp_path / "test_probe.py")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )  # fmt: skip
    return out.stdout + out.stderr


def test_missing_data_and_packages_fail_under_ci_and_skip_elsewhere(tmp_path):
    local = _run_probe(tmp_path, ci="")
    assert re.search(r"\b4 skipped\b", local), local
    ci = _run_probe(tmp_path, ci="true")
    assert re.search(r"test_package_missing - CI=true", ci), ci
    assert re.search(r"test_renderer_missing - CI=true", ci), ci
    assert re.search(r"test_shared_data - Failed: CI=true: .*no-shared-data not found", ci), ci
    assert re.search(r"\b1 skipped\b", ci), ci  # "no CUDA device" stays a skip


def test_make_test_installs_the_packages_the_tests_need():
    makefile = (REPO / "Makefile").read_text()
    packages = re.search(r"^APT_PACKAGES\s*:=\s*(.+)$", makefile, re.M).group(1).split()
    assert {"fluidsynth", "timgm6mb-soundfont", "hydrogen-drumkits"} <= set(packages)
    assert re.search(r"^test: install\b", makefile, re.M)
    assert re.search(r"^install: .*system-deps", makefile, re.M)
    ci = (REPO / ".ci" / "run").read_text()
    assert "export CI=true" in ci and re.search(r"^make test$", ci, re.M)


def test_gtzan_recipe_reads_the_split_lists_from_torchmusic_shared_data(monkeypatch, tmp_path):
    from torchmusic.training import TrainConfig

    recipe = REPO / "configs" / "gtzan.yaml"
    monkeypatch.setenv("TORCHMUSIC_SHARED_DATA", str(tmp_path / "elsewhere"))
    cfg = TrainConfig.from_sources(config=str(recipe), data=str(tmp_path))
    assert cfg.split_lists == {
        s: str(tmp_path / "elsewhere" / "gtzan_splits" / f"{s}_filtered.txt")
        for s in ("train", "valid", "test")
    }
    # Unset (or empty): ../shared/data beside the checkout.
    monkeypatch.delenv("TORCHMUSIC_SHARED_DATA")
    cfg = TrainConfig.from_sources(config=str(recipe), data=str(tmp_path))
    default = (REPO.parent / "shared" / "data" / "gtzan_splits" / "train_filtered.txt").resolve()
    assert cfg.split_lists["train"] == str(default)


def test_make_bench_has_a_runner_whose_benchmarks_exist():
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run_all.py"), "--list"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = out.stdout.strip().splitlines()
    assert len(lines) >= 5
    for line in lines:
        script = Path(line.split()[1])
        assert script.is_file(), line
    assert "benchmarks/run_all.py" in (REPO / "Makefile").read_text()
