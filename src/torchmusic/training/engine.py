"""Pieces every training job shares (classification, language models, recommenders).

Lightning is imported here, so only ``torchmusic.training`` modules import this one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from torchmusic.errors import DataError, ParameterError

LAST_CKPT = "last.ckpt"


def sync(device: torch.device) -> None:
    """Wait for queued CUDA work, so wall-clock timings measure finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Throughput(Callback):
    """Training clips per second, between the ends of each epoch's first and last batch.

    The first batch is left out (it includes worker start-up and warm-up) and so is
    the validation pass at the end of the epoch, so the figure is the steady-state
    rate of loading + augmenting + training. Under DDP it is multiplied by the
    number of processes (all ranks train the same number of batches).
    """

    def __init__(self) -> None:
        self.rates: list[float] = []
        self._t0: float | None = None
        self._t1 = 0.0
        self._clips = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t0, self._clips = None, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        sync(pl_module.device)
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
            return
        self._clips += int(batch[0].shape[0])
        self._t1 = now

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._t0 is None or self._clips == 0:
            return
        rate = self._clips * trainer.world_size / (self._t1 - self._t0)
        self.rates.append(rate)
        pl_module.log("train_clips_per_s", rate, rank_zero_only=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def is_global_zero() -> bool:
    # Before the Trainer exists, the launchers' environment says which process this is.
    return all(os.environ.get(k, "0") == "0" for k in ("RANK", "LOCAL_RANK", "SLURM_PROCID"))


def resolve_accelerator(accelerator: str) -> str:
    """``"auto"`` becomes ``"gpu"`` when CUDA is available, else ``"cpu"``."""
    if accelerator == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return accelerator


def resolve_precision(precision: str | int | None, accelerator: str) -> str | int:
    """The given precision, else bf16/16 mixed precision on GPU and 32-bit on CPU."""
    if precision is not None:
        return precision
    if accelerator in ("gpu", "cuda"):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def latest_checkpoint(run_dir: Path, *, every_n_steps: int | None = None) -> ModelCheckpoint:
    """A checkpoint callback that overwrites ``checkpoints/last.ckpt`` (atomically)."""
    return ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename=LAST_CKPT.removesuffix(".ckpt"),
        monitor=None,
        save_top_k=1,
        every_n_train_steps=every_n_steps,
        enable_version_counter=False,
    )


@contextlib.contextmanager
def quiet_lightning(*, verbose: bool) -> Iterator[None]:
    """Hide Lightning's advice that does not apply to these runs.

    Always: the warning that a CPU run has few loader workers (0 is our choice:
    slicing cached features is cheaper than inter-process transfer), the one about
    epochs shorter than the logging interval (tiny datasets), a pytree deprecation
    inside Lightning, the non-empty checkpoint folder notice on resume, and the
    note that DDP evaluation pads the last batch and the one on mid-epoch resumes
    (both explained in :func:`torchmusic.training.train_classifier`). With
    ``verbose=False`` also Lightning's info lines (devices found, tips).
    """
    patterns = (
        r".*does not have many workers.*",
        r".*smaller than the logging interval.*",
        r".*isinstance\(treespec, LeafSpec\).*",
        r"Checkpoint directory .* exists and is not empty.*",
        # DDP evaluation may count up to world_size - 1 padded clips twice: documented.
        r".*Using `DistributedSampler` with the dataloaders.*",
        # Resuming from a mid-epoch (every-N-steps) checkpoint finishes that epoch
        # with freshly drawn random crops: documented, and harmless for random crops.
        r".*resuming from a checkpoint that ended before the epoch ended.*",
    )
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        for pattern in patterns:
            warnings.filterwarnings("ignore", message=pattern)
        if not verbose:
            for lg in loggers:
                lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, atomically (temp file + ``os.replace``)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def check_run_dir(cfg: Any, run_dir: Path) -> Path | None:
    """The checkpoint to resume from (None: a fresh run); refuses to clobber a run.

    ``cfg`` is any of the training configs: it has ``resume``, ``identity()`` (the
    settings a resumed run must share) and the class method ``from_yaml`` that reads
    the run's saved ``config.yaml``.

    Raises
    ------
    DataError
        ``run_dir`` already holds a run and ``cfg.resume`` is False.
    ParameterError
        Resuming with settings that differ from the run's (the message lists them).
    """
    last = run_dir / "checkpoints" / LAST_CKPT
    if not cfg.resume:
        if last.exists():
            raise DataError(
                f"run folder {str(run_dir)!r} already holds a run ({last}); pass --resume to "
                "continue it, or choose another --out"
            )
        return None
    saved = run_dir / "config.yaml"
    if saved.is_file():
        old = type(cfg).from_yaml(saved).identity()
        new = cfg.identity()
        diffs = [f"{k}: run {old[k]!r}, now {new[k]!r}" for k in old if old[k] != new.get(k)]
        if diffs:
            raise ParameterError(
                f"cannot resume {str(run_dir)!r} with different settings ("
                + "; ".join(diffs)
                + "); use the run's own settings or start a new run with another --out"
            )
    if not last.is_file():
        print(
            f"torchmusic: nothing to resume in {run_dir} (no checkpoints/{LAST_CKPT}); "
            "starting from scratch",
            file=sys.stderr,
        )
        return None
    return last
