"""The run engine: start_run / build_trainer / fit / evaluate_best / finish_run on a toy task."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import ClassVar

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from torchmusic.errors import DataError
from torchmusic.training.engine import (
    RunResult,
    build_trainer,
    evaluate_best,
    finish_run,
    fit,
    start_run,
)
from torchmusic.training.recipe import RunRecipe

STEP_SLEEP = 0.25  # seconds per training step: makes the training time measurable


@dataclasses.dataclass
class ToyRecipe(RunRecipe):
    width: int = 4
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = ("width", "seed")


class ToyModule(pl.LightningModule):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = torch.nn.Linear(width, 1)

    def training_step(self, batch, batch_idx):
        time.sleep(STEP_SLEEP)
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loaders(width: int) -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, width, generator=g)
    data = TensorDataset(x, x.sum(1, keepdim=True))
    return DataLoader(data, batch_size=4), DataLoader(data, batch_size=8)


def _train(out: Path, **settings) -> tuple[RunResult, float]:
    settings = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, **settings}
    cfg = ToyRecipe(out_dir=str(out), **settings)
    cfg = cfg.validate()
    run = start_run(cfg, default_dir=out, progress=False)
    module = ToyModule(cfg.width)
    train, valid = _loaders(cfg.width)
    trainer = build_trainer(cfg, run, monitor="val_loss", tensorboard=False)
    t0 = time.monotonic()
    fit(trainer, module, run, train_dataloaders=train, val_dataloaders=valid)
    fit_s = time.monotonic() - t0
    metrics = evaluate_best(trainer, module, run, val_dataloaders=valid)
    finish_run(
        trainer,
        run,
        metrics,
        export=lambda m: torch.save(module.net.state_dict(), run.model_file),
    )
    return RunResult(run.model_file, run.path, metrics), fit_s


def test_a_run_writes_its_folder_and_honest_figures(tmp_path):
    result, fit_s = _train(tmp_path / "run")
    m = result.metrics
    assert m["epochs_trained"] == 2 and m["global_step"] == 4
    assert m["best_checkpoint"].startswith("best-") and "val_loss" in m
    # Training time is this run's: 4 steps of STEP_SLEEP, and no more than the fit took
    # (reading it after the best checkpoint's reload would add that checkpoint's time).
    train_s = m["train_minutes"] * 60
    assert 4 * STEP_SLEEP - 0.6 <= train_s <= fit_s + 0.6
    for name in ("config.yaml", "metrics.json", "model.safetensors", "checkpoints/last.ckpt"):
        assert (result.run_dir / name).is_file(), name
    assert json.loads((result.run_dir / "metrics.json").read_text())["global_step"] == 4


def test_resume_needs_the_same_identity_and_a_refused_run_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    _train(out)
    with pytest.raises(DataError, match="already holds a run"):
        _train(out)
    with pytest.raises(Exception, match="width"):
        _train(out, resume=True, width=5)
    resumed, _ = _train(out, resume=True, max_epochs=3)
    assert resumed.metrics["global_step"] == 6
    fresh = tmp_path / "never"
    with pytest.raises(DataError, match="no run to resume"):
        _train(fresh, resume=True)
    assert not fresh.exists()
