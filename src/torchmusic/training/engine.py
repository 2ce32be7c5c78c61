"""The run engine every trainer shares: run folder, Trainer, fit, evaluate-best, export.

A trainer is its settings (a :class:`~torchmusic.training.recipe.RunRecipe`), a data
module or loaders, a LightningModule and an export function; the engine does the
rest the same way for every task::

    run = start_run(cfg, default_dir=Path("runs") / "my-run")   # folder, resume check, seed
    trainer = build_trainer(cfg, run, monitor="val_loss")        # checkpoints, loggers, DDP
    fit(trainer, module, run, datamodule=data)
    metrics = finish_run(trainer, module, run, datamodule=data,  # best ckpt -> valid/test
                         export=lambda m: save(run.path / MODEL_FILE, module.model, m))

Manual optimisation with several optimisers (GANs) is the same path: the module
sets ``automatic_optimization = False`` (see :mod:`torchmusic.training.adversarial`)
and ``build_trainer(..., manual_optimization=True)`` leaves gradient clipping to it.

Lightning is imported here, so only ``torchmusic.training`` modules import this one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, Timer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from torchmusic.errors import DataError, ParameterError

LAST_CKPT = "last.ckpt"
MODEL_FILE = "model.safetensors"


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
        self._clips += batch_size(batch)
        self._t1 = now

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._t0 is None or self._clips == 0:
            return
        rate = self._clips * trainer.world_size / (self._t1 - self._t0)
        self.rates.append(rate)
        pl_module.log("train_clips_per_s", rate, rank_zero_only=True)


def batch_size(batch: Any) -> int:
    """Examples in a batch: a tensor, or the first tensor of a tuple/list/dict batch."""
    while not isinstance(batch, torch.Tensor):
        batch = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
    return int(batch.shape[0])


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
        # Manual optimisation (GANs): every-N-steps checkpoints hold the state after
        # the step, which is what their global_step and optimiser states describe.
        r"Using ModelCheckpoint with manual optimization and every_n_train_steps.*",
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
        ``run_dir`` already holds a run and ``cfg.resume`` is False, or ``cfg.resume``
        is True and ``run_dir`` holds no run (no ``config.yaml``, no checkpoint).
    ParameterError
        Resuming with settings that differ from the run's (the message lists them).
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError(f"run folder {str(run_dir)!r} is an existing file; expected a folder")
    last = run_dir / "checkpoints" / LAST_CKPT
    if not cfg.resume:
        if last.exists():
            raise DataError(
                f"run folder {str(run_dir)!r} already holds a run ({last}); pass --resume to "
                "continue it, or choose another --out"
            )
        return None
    saved = run_dir / "config.yaml"
    if not saved.is_file() and not last.is_file():
        raise DataError(
            f"--resume: no run to resume in {str(run_dir)!r} (expected a run folder with "
            "config.yaml and checkpoints/); check --out, or drop --resume to start a new run"
        )
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


class StopAtMaxSteps(Callback):
    """Ask to stop (``trainer.should_stop``) once ``max_steps`` is reached.

    Lightning ends a run at ``max_steps`` without validating when that falls
    mid-epoch; a requested stop is validated first, so the last steps count
    towards the best checkpoint.
    """

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.global_step >= self.max_steps:
            trainer.should_stop = True


# -- the run ------------------------------------------------------------------------------
@dataclasses.dataclass
class RunResult:
    """Outcome of a training job: every ``train_*`` returns one (or a subclass).

    Attributes
    ----------
    model_file : pathlib.Path
        The exported model file (best checkpoint).
    run_dir : pathlib.Path
        The run folder (checkpoints, logs, ``config.yaml``, ``metrics.json``).
    metrics : dict
        Figures of the best checkpoint and the run's bookkeeping
        (``best_checkpoint``, ``epochs_trained``, ``global_step``, ...).
    skipped : list of (str, str)
        Input files left out (unreadable, empty, ...), with the reason.
    """

    model_file: Path
    run_dir: Path
    metrics: dict[str, Any]
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class RunFolder:
    """Where a run lives and where it starts: see :func:`start_run`.

    Attributes
    ----------
    path : pathlib.Path
        The run folder (absolute).
    resume_from : pathlib.Path or None
        ``checkpoints/last.ckpt`` to continue from, None for a fresh run.
    progress : bool
        Progress bars and summaries (False also quiets Lightning's info lines).
    settings : RunRecipe or None
        What :meth:`save_config` writes as ``config.yaml``.
    """

    path: Path
    resume_from: Path | None
    progress: bool = True
    settings: Any = None

    @property
    def model_file(self) -> Path:
        """Where the exported model file goes (``run_dir/model.safetensors``)."""
        return self.path / MODEL_FILE

    def save_config(self) -> None:
        """Create the folder and write ``config.yaml`` (global rank 0 only, atomically).

        Called when the run really starts (by :func:`fit`), so a run refused for bad
        data or settings leaves no folder behind.
        """
        if is_global_zero() and self.settings is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            self.settings.to_yaml(self.path / "config.yaml")


def start_run(settings: Any, *, default_dir: Path, progress: bool = True) -> RunFolder:
    """Resolve the run folder, refuse to clobber a run, and seed everything.

    ``settings`` is a validated :class:`~torchmusic.training.recipe.RunRecipe` with
    absolute paths; its ``out_dir`` is set to the resolved folder. Nothing is
    written yet: :func:`fit` creates the folder and its ``config.yaml`` (see
    :meth:`RunFolder.save_config`), so a run refused for bad data leaves no trace.

    Raises
    ------
    DataError
        The folder already holds a run and ``settings.resume`` is False, or
        ``resume`` is asked for a folder that holds no run.
    ParameterError
        Resuming with settings whose :meth:`identity` differs from the run's.
    """
    run_dir = Path(settings.out_dir).expanduser() if settings.out_dir else default_dir
    run_dir = run_dir.resolve()
    settings.out_dir = str(run_dir)
    resume_from = check_run_dir(settings, run_dir)
    if getattr(settings, "threads", None):
        torch.set_num_threads(settings.threads)
    pl.seed_everything(settings.seed, workers=True, verbose=False)
    return RunFolder(run_dir, resume_from, progress, settings)


def build_trainer(
    settings: Any,
    run: RunFolder | None,
    *,
    monitor: str | None,
    mode: str = "min",
    callbacks: Sequence[Callback] = (),
    best_filename: str = "best-{epoch:03d}",
    best_after_validation: bool = False,
    tensorboard: bool = True,
    manual_optimization: bool = False,
    **trainer_kwargs: Any,
) -> pl.Trainer:
    """A :class:`lightning.pytorch.Trainer` configured from the shared run settings.

    Parameters
    ----------
    settings : RunRecipe
        Reads ``accelerator``, ``devices``, ``num_nodes``, ``strategy``,
        ``precision``, ``max_epochs``, ``max_steps``, ``max_minutes``,
        ``patience``, ``grad_clip``, ``checkpoint_every_n_steps``,
        ``log_every_n_steps`` and ``deterministic``.
    run : RunFolder or None
        From :func:`start_run`. None: an in-memory fit (e.g. inside a
        recommender's ``fit``) with no run folder, checkpoints or loggers.
    monitor : str or None
        Metric that picks the best checkpoint (``checkpoints/best-*.ckpt``) and
        drives early stopping; None keeps only ``last.ckpt``.
    mode : {"min", "max"}
        Whether a lower or a higher ``monitor`` is better.
    callbacks : sequence of Callback
        The task's own callbacks, added after the engine's.
    best_filename : str
        Name pattern of the best checkpoint.
    best_after_validation : bool
        Consider the best checkpoint after every validation (mid-epoch validation
        with ``val_check_interval``), not only at epoch ends.
    tensorboard : bool
        Also log to TensorBoard (CSV logs are always written).
    manual_optimization : bool
        The module steps its own optimisers (GANs): gradient clipping is then the
        module's job (``grad_clip`` is passed to it, not to the Trainer).
    **trainer_kwargs
        Any other Trainer argument (e.g. ``use_distributed_sampler=False``).

    Returns
    -------
    lightning.pytorch.Trainer
        With a last-checkpoint callback (every epoch, and every
        ``checkpoint_every_n_steps``), the best-checkpoint callback, a
        :class:`~lightning.pytorch.callbacks.Timer` (``max_minutes``), a
        :class:`Throughput` meter and early stopping (``patience > 0``).
    """
    accelerator = resolve_accelerator(settings.accelerator)
    if accelerator in ("gpu", "cuda"):
        # TF32 matmuls: a free speed-up on Ampere+ at a precision no trainer here needs.
        torch.set_float32_matmul_precision("high")
    setting = functools.partial(getattr, settings)  # settings(name, default)
    engine_callbacks: list[Callback] = []
    if run is not None:
        engine_callbacks += _checkpoints(
            run, monitor, mode, best_filename, best_after_validation, setting
        )
    minutes = setting("max_minutes", None)
    engine_callbacks += [
        Timer(duration=datetime.timedelta(minutes=minutes) if minutes else None, interval="step"),
        Throughput(),
    ]
    if setting("max_steps", None):
        engine_callbacks.append(StopAtMaxSteps(settings.max_steps))
    if monitor is not None and setting("patience", 0) > 0:
        engine_callbacks.append(
            EarlyStopping(monitor=monitor, mode=mode, patience=settings.patience)
        )
    progress = run.progress if run is not None else bool(setting("progress", False))
    kwargs: dict[str, Any] = dict(
        accelerator=accelerator,
        devices=setting("devices", 1 if run is None else "auto"),
        num_nodes=setting("num_nodes", 1),
        strategy=setting("strategy", "auto"),
        precision=resolve_precision(setting("precision", None), accelerator),
        max_epochs=settings.max_epochs,
        max_steps=setting("max_steps", None) or -1,
        callbacks=[*engine_callbacks, *callbacks],
        logger=_loggers(run, tensorboard) if run is not None else False,
        enable_checkpointing=run is not None,
        default_root_dir=run.path if run is not None else None,
        enable_progress_bar=progress and progress_bar_wanted(),
        enable_model_summary=progress,
        log_every_n_steps=setting("log_every_n_steps", 10),
        deterministic=setting("deterministic", False),
        num_sanity_val_steps=0,
    )
    if not manual_optimization:
        kwargs["gradient_clip_val"] = setting("grad_clip", 0.0) or None
    kwargs.update(trainer_kwargs)
    with quiet_lightning(verbose=progress):
        return pl.Trainer(**kwargs)


def _checkpoints(
    run: RunFolder,
    monitor: str | None,
    mode: str,
    best_filename: str,
    best_after_validation: bool,
    setting: Callable[[str, Any], Any],
) -> list[Callback]:
    out: list[Callback] = []
    if monitor is not None:
        out.append(
            ModelCheckpoint(
                dirpath=run.path / "checkpoints",
                filename=best_filename,
                monitor=monitor,
                mode=mode,
                save_top_k=1,
                auto_insert_metric_name=False,
                save_on_train_epoch_end=False if best_after_validation else None,
            )
        )
    # last.ckpt has checkpoints of its own: Lightning's save_last only refreshes it in
    # epochs where the best checkpoint changed, and resuming must continue from the
    # latest epoch. Listed after `best` so its saved state holds this epoch's best score.
    out.append(latest_checkpoint(run.path))
    every = setting("checkpoint_every_n_steps", None)
    if every:
        out.append(latest_checkpoint(run.path, every_n_steps=every))
    return out


def _loggers(run: RunFolder, tensorboard: bool) -> list[Any]:
    loggers: list[Any] = [CSVLogger(run.path, name="csv")]
    if tensorboard:
        loggers.append(
            TensorBoardLogger(run.path, name="tensorboard", version="", default_hp_metric=False)
        )
    return loggers


def progress_bar_wanted() -> bool:
    """A live progress bar only on a terminal (``TORCHMUSIC_PROGRESS=1`` forces it).

    Lightning's bar writes to stdout; redirected to a file or a CI log it would
    add one line per refresh.
    """
    forced = os.environ.get("TORCHMUSIC_PROGRESS")
    if forced is not None:
        return forced not in ("0", "", "false")
    return sys.stdout.isatty()


def fit(trainer: pl.Trainer, module: pl.LightningModule, run: RunFolder, **data: Any) -> None:
    """``trainer.fit`` from ``run.resume_from`` (restored with ``weights_only=True``).

    ``data`` is ``datamodule=`` or ``train_dataloaders=`` / ``val_dataloaders=``.
    Lightning's configuration errors (e.g. resuming a run that already trained
    more epochs than ``max_epochs``) become a :class:`ParameterError`.
    """
    run.save_config()
    with quiet_lightning(verbose=run.progress):
        try:
            trainer.fit(module, ckpt_path=run.resume_from, weights_only=True, **data)
        except MisconfigurationException as exc:
            raise ParameterError(f"cannot train in {str(run.path)!r}: {exc}") from exc


def best_checkpoint(trainer: pl.Trainer, run: RunFolder) -> Path:
    """The best checkpoint of the run (``last.ckpt`` when nothing was monitored)."""
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.monitor is not None and cb.best_model_path:
            return Path(cb.best_model_path)
    return run.path / "checkpoints" / LAST_CKPT


def callback(trainer: pl.Trainer, kind: type) -> Any:
    """The trainer's first callback of class ``kind`` (None if it has none)."""
    return next((c for c in trainer.callbacks if isinstance(c, kind)), None)


def evaluate_best(
    trainer: pl.Trainer,
    module: pl.LightningModule,
    run: RunFolder,
    *,
    datamodule: pl.LightningDataModule | None = None,
    val_dataloaders: Any = None,
    test_dataloaders: Any = None,
    test: bool = False,
) -> dict[str, Any]:
    """Load the best checkpoint into ``module`` (every rank) and score it on valid (and test).

    Without validation data the best weights are loaded and nothing is scored.
    Returns the ``val_*`` / ``test_*`` figures plus the run's bookkeeping
    (``best_checkpoint``, ``epochs_trained``, ``global_step``, ``train_minutes``).
    """
    best = best_checkpoint(trainer, run)
    metrics: dict[str, Any] = {}
    # Read the training time first: loading a checkpoint below restores the Timer's
    # state, which would add the checkpoint's elapsed time to this run's.
    timer = callback(trainer, Timer)
    if timer is not None:
        metrics["train_minutes"] = round(timer.time_elapsed("train") / 60.0, 2)
    with quiet_lightning(verbose=run.progress):
        if datamodule is not None or val_dataloaders is not None:
            metrics.update(_score(trainer.validate, module, best, datamodule, val_dataloaders))
        else:
            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(state)
        if test:
            metrics.update(_score(trainer.test, module, best, datamodule, test_dataloaders))
    metrics.update(
        best_checkpoint=best.name,
        epochs_trained=int(trainer.current_epoch),
        global_step=int(trainer.global_step),
    )
    return metrics


def _score(run: Callable, module: Any, best: Path, datamodule: Any, loaders: Any) -> dict:
    data = {"datamodule": datamodule} if datamodule is not None else {"dataloaders": loaders}
    out = run(module, ckpt_path=str(best), weights_only=True, verbose=False, **data)
    return {k: float(v) for k, v in (out[0] if out else {}).items()}


def median_throughput(trainer: pl.Trainer) -> float | None:
    """Median training clips (examples) per second over the run's epochs, if measured."""
    meter = callback(trainer, Throughput)
    if meter is None or not meter.rates:
        return None
    return sorted(meter.rates)[len(meter.rates) // 2]


def finish_run(
    trainer: pl.Trainer,
    run: RunFolder,
    metrics: dict[str, Any],
    *,
    export: Callable[[dict[str, Any]], Any],
    files: dict[str, Any] | None = None,
) -> Path:
    """Export the model file and write ``metrics.json`` (rank 0), then wait for every rank.

    ``export(metrics)`` writes ``run.model_file``; ``files`` maps other JSON file
    names in the run folder to their contents (e.g. ``{"data.json": {...}}``).
    Returns the model file's path.
    """
    if trainer.is_global_zero:
        export(metrics)
        write_json(run.path / "metrics.json", metrics)
        for name, payload in (files or {}).items():
            write_json(run.path / name, payload)
    # No rank returns before the file exists: callers may load it right away.
    trainer.strategy.barrier("torchmusic-export")
    return run.model_file


def plain_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The numbers and strings of ``metrics`` (what a model file's spec stores)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float | str)}
