"""Resuming continues from the saved step: after a finished run, and after SIGKILL."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from torchmusic.cli.main import main
from torchmusic.errors import DataError, ParameterError
from torchmusic.training import train_classifier


def _ckpt(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def _csv_rows(run_dir: Path, version: int) -> list[dict[str, str]]:
    path = run_dir / "csv" / f"version_{version}" / "metrics.csv"
    return list(csv.DictReader(path.open()))


def test_resume_continues_the_global_step(tmp_path, make_config, demo_manifest):
    run = tmp_path / "run"
    first = train_classifier(make_config(demo_manifest, run, max_epochs=1), progress=False)
    steps_per_epoch = first.metrics["global_step"]
    assert steps_per_epoch > 0 and _ckpt(run)["epoch"] == 0

    again = make_config(demo_manifest, run, max_epochs=2, resume=True)
    second = train_classifier(again, progress=False)
    assert second.metrics["global_step"] == 2 * steps_per_epoch  # continued, not restarted
    assert second.metrics["epochs_trained"] == 2
    # The resumed attempt logs to its own CSV and only trained epoch 1.
    epochs = {r["epoch"] for r in _csv_rows(run, 1) if r.get("train_loss")}
    assert epochs == {"1"}
    assert second.model_file.is_file()


def test_a_finished_run_is_not_overwritten_without_resume(tmp_path, make_config, demo_manifest):
    run = tmp_path / "run"
    train_classifier(make_config(demo_manifest, run), progress=False)
    before = (run / "model.safetensors").read_bytes()
    with pytest.raises(DataError, match=r"already holds a run.*--resume"):
        train_classifier(make_config(demo_manifest, run), progress=False)
    assert (run / "model.safetensors").read_bytes() == before
    with pytest.raises(ParameterError, match=r"cannot resume .*clip_seconds"):
        train_classifier(
            make_config(demo_manifest, run, resume=True, clip_seconds=0.5), progress=False
        )


def test_kill_then_resume_from_the_command_line(
    tmp_path, capsys, demo_manifest, feature_cache, tiny_cli_args
):
    run = tmp_path / "run"
    args = [
        "train", "classify",
        "--data", str(demo_manifest),
        "--config", str(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"),
        "--arch", "shortchunk",
        "--out", str(run),
        "--no-progress",
        *tiny_cli_args("shortchunk"),
        "--batch_size", "2",
        "--clips_per_track", "2",  # 4 steps per epoch
        "--checkpoint_every_n_steps", "1",
        "--cache_dir", str(feature_cache),
        "--extract_workers", "1",
        "--patience", "0",
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchmusic", *args, "--max_epochs", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        killed_step = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if (run / "checkpoints" / "last.ckpt").exists():
                killed_step = _ckpt(run)["global_step"]
                if killed_step >= 6:  # inside the second epoch
                    break
        assert proc.poll() is None, f"training ended early: {proc.stderr.read()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed = _ckpt(run)
    assert killed["global_step"] >= 6 and not (run / "model.safetensors").exists()

    # Training may have got further than the poll saw: count from the checkpoint.
    epochs = killed["epoch"] + 2
    assert main([*args, "--resume", "--max_epochs", str(epochs)]) == 0
    final = _ckpt(run)
    assert final["global_step"] > killed["global_step"]
    assert final["epoch"] == epochs - 1
    # The resumed attempt started from the saved step, not from 0.
    steps = [int(r["step"]) for r in _csv_rows(run, 1)]
    assert min(steps) >= killed["global_step"]
    assert (run / "model.safetensors").is_file()

    # Asking for fewer epochs than the run already has is a clear error.
    capsys.readouterr()
    assert main([*args, "--resume", "--max_epochs", "1"]) == 1
    assert "max_epochs=1" in capsys.readouterr().err
