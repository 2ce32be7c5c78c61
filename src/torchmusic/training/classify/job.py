"""``train_classifier``: one call from a :class:`TrainConfig` to a model file.

A run folder holds everything of one run::

    run_dir/
      config.yaml                 the full configuration (checked on --resume)
      data.json                   classes, tracks per split, skipped files
      checkpoints/last.ckpt       refreshed every epoch (and every N steps if asked)
      checkpoints/best-*.ckpt     best epoch by the validation metric
      csv/version_K/metrics.csv   one CSV per attempt (a resume starts a new one)
      tensorboard/                TensorBoard event files
      metrics.json                validation/test figures of the best checkpoint
      model.safetensors           the exported model file (Contract A)

The same function runs in every process of a multi-GPU or multi-node job
(``torchrun``, SLURM or Lightning's own launcher): Lightning handles the process
group, and only the global-rank-0 process writes the model file. For example::

    # one machine, 4 GPUs (Lightning starts the 4 processes itself)
    torchmusic train classify --config configs/gtzan.yaml --data genres --devices 4 --strategy ddp
    # 2 machines x 4 GPUs with torchrun (run on each machine)
    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \
        -m torchmusic train classify ... --devices 4 --num-nodes 2 --strategy ddp
    # SLURM: srun starts one task per GPU; Lightning reads the SLURM variables
    srun --nodes 2 --ntasks-per-node 4 torchmusic train classify ... --devices 4 --num-nodes 2
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
)
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from torchmusic.errors import ParameterError
from torchmusic.training.config import TrainConfig
from torchmusic.training.data import TEST, TRAIN, VALID, load_tracks, split_table, split_tracks
from torchmusic.training.datamodule import ClassificationData
from torchmusic.training.engine import (
    LAST_CKPT,
    Throughput,
    check_run_dir,
    is_global_zero,
    latest_checkpoint,
    quiet_lightning,
    resolve_accelerator,
    resolve_precision,
    write_json,
)
from torchmusic.training.module import ClassifierModule, monitor_metric, monitor_mode

MODEL_FILE = "model.safetensors"


@dataclasses.dataclass
class TrainResult:
    """Outcome of :func:`train_classifier`.

    Attributes
    ----------
    model_file : pathlib.Path
        The exported model file (best checkpoint), loadable with
        :func:`torchmusic.models.load_classifier`.
    run_dir : pathlib.Path
        The run folder (checkpoints, logs, configuration).
    metrics : dict
        ``val_*`` (and ``test_*`` when there is a test split) figures of the best
        checkpoint at clip level, ``best_epoch``, ``global_step``,
        ``train_clips_per_s``.
    skipped : list of (str, str)
        Files left out because they could not be decoded, with the reason.
    """

    model_file: Path
    run_dir: Path
    metrics: dict[str, Any]
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)


# -- run folder ---------------------------------------------------------------------------
def default_run_dir(cfg: TrainConfig) -> Path:
    """``runs/<data name>-<model>`` (a manifest named ``manifest.*`` uses its folder's name)."""
    data = Path(str(cfg.data)).expanduser().resolve()
    name = data.name if data.is_dir() else data.stem
    if name in ("manifest", "metadata", "index", "tracks") and not data.is_dir():
        name = data.parent.name
    return Path("runs") / f"{name}-{cfg.model}"


# -- the job ------------------------------------------------------------------------------
def train_classifier(cfg: TrainConfig, *, progress: bool = True) -> TrainResult:
    """Train a classifier and export the best checkpoint as a model file.

    Parameters
    ----------
    cfg : TrainConfig
        All settings (see :class:`TrainConfig`).
    progress : bool
        Progress bars, the data summary and the model summary.

    Returns
    -------
    TrainResult
        ``model_file`` (``run_dir/model.safetensors``), ``run_dir``, ``metrics``,
        ``skipped``.

    Raises
    ------
    ParameterError
        Invalid settings, or ``resume`` with settings that differ from the run's.
    DataError
        Bad data (empty folder, a single class, missing labels, no validation
        tracks, every file undecodable), or a run folder that already holds a run
        while ``resume`` is False.

    Notes
    -----
    Files that cannot be decoded are skipped and listed before training starts
    (and in ``data.json``); tracks shorter than ``clip_seconds`` are padded.
    Checkpoints contain tensors and plain values only and are restored with
    ``torch.load(weights_only=True)``. Under DDP, validation clips are shared out
    by a ``DistributedSampler``, which repeats up to ``world_size - 1`` clips to
    even out the ranks: validation figures can differ very slightly from a
    single-process evaluation (``torchmusic evaluate`` gives the exact ones).
    Resuming from a mid-epoch checkpoint (``checkpoint_every_n_steps``) runs the
    rest of that epoch's steps on freshly drawn shuffled random crops rather than
    replaying the exact remaining batches.

    Examples
    --------
    >>> cfg = TrainConfig.from_sources(
    ...     config="configs/demo.yaml", data="demo_out/corpus"
    ... )  # doctest: +SKIP
    >>> result = train_classifier(cfg)  # doctest: +SKIP
    >>> result.model_file  # doctest: +SKIP
    PosixPath('runs/corpus-shortchunk/model.safetensors')
    """
    if not isinstance(cfg, TrainConfig):
        raise ParameterError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    # A copy (the caller's object is not changed) with absolute paths, so the saved
    # config.yaml means the same from any working folder.
    cfg = cfg.validate().with_absolute_paths()
    run_dir = Path(cfg.out_dir) if cfg.out_dir else default_run_dir(cfg).resolve()
    cfg.out_dir = str(run_dir)
    ckpt_path = check_run_dir(cfg, run_dir)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.model == "mfcc-svm":
        return _train_baseline(cfg, run_dir, progress=progress)

    accelerator = resolve_accelerator(cfg.accelerator)
    on_gpu = accelerator in ("gpu", "cuda")
    if on_gpu:
        # TF32 matmuls: a free speed-up on Ampere+ at classifier-irrelevant precision.
        torch.set_float32_matmul_precision("high")
    zero = is_global_zero()
    data = ClassificationData(cfg, on_gpu=on_gpu, progress=progress and zero, report=zero)
    # Classes and sizes are known from the file list alone (no decoding needed).
    tracks = load_tracks(cfg)
    module = _build_module(cfg, classes=tracks.classes, multi_label=tracks.multi_label)
    if zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.to_yaml(run_dir / "config.yaml")

    monitor = module.monitor
    mode = monitor_mode(monitor)
    best = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best-{epoch:03d}",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        auto_insert_metric_name=False,
    )
    # last.ckpt is written by checkpoints of its own: Lightning's save_last only
    # refreshes it in epochs where the best checkpoint changed, and resuming must
    # continue from the latest epoch, not the best one. Listed after `best` so its
    # saved state already holds this epoch's best score.
    callbacks: list[Callback] = [best, latest_checkpoint(run_dir)]
    if cfg.checkpoint_every_n_steps:
        callbacks.append(latest_checkpoint(run_dir, every_n_steps=cfg.checkpoint_every_n_steps))
    callbacks += [Throughput(), LearningRateMonitor(logging_interval="epoch")]
    if cfg.patience > 0:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=cfg.patience))
    with quiet_lightning(verbose=progress):
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=cfg.devices,
            num_nodes=cfg.num_nodes,
            strategy=cfg.strategy,
            precision=resolve_precision(cfg.precision, accelerator),
            max_epochs=cfg.max_epochs,
            callbacks=callbacks,
            logger=[
                CSVLogger(run_dir, name="csv"),
                TensorBoardLogger(run_dir, name="tensorboard", version="", default_hp_metric=False),
            ],
            default_root_dir=run_dir,
            enable_progress_bar=progress,
            enable_model_summary=progress,
            log_every_n_steps=cfg.log_every_n_steps,
            deterministic=cfg.deterministic,
            num_sanity_val_steps=0,
        )
        try:
            trainer.fit(module, datamodule=data, ckpt_path=ckpt_path, weights_only=True)
        except MisconfigurationException as exc:
            # E.g. resuming a run that already trained more epochs than max_epochs.
            raise ParameterError(f"cannot train in {str(run_dir)!r}: {exc}") from exc
        return _finish(cfg, trainer, module, data, callbacks, best, run_dir)


def _finish(
    cfg: TrainConfig,
    trainer: pl.Trainer,
    module: ClassifierModule,
    data: ClassificationData,
    callbacks: list[Callback],
    best: ModelCheckpoint,
    run_dir: Path,
) -> TrainResult:
    """Evaluate the best checkpoint, export it (rank 0), write the run's JSON files."""
    monitor = module.monitor
    best_path = best.best_model_path or str(run_dir / "checkpoints" / LAST_CKPT)
    # validate() (and test()) reload the best weights into `module` on every rank,
    # so the export below writes exactly the evaluated model.
    metrics: dict[str, Any] = {}
    for split, run in ((VALID, trainer.validate), (TEST, trainer.test)):
        if split == TEST and not (cfg.test_after_fit and data.has_test):
            continue
        results = run(
            module, datamodule=data, ckpt_path=best_path, weights_only=True, verbose=False
        )
        metrics.update({k: float(v) for k, v in (results[0] if results else {}).items()})
    metrics.update(
        monitor=monitor,
        best_checkpoint=Path(best_path).name,
        epochs_trained=int(trainer.current_epoch),
        global_step=int(trainer.global_step),
    )
    rates = next(c for c in callbacks if isinstance(c, Throughput)).rates
    if rates:
        metrics["train_clips_per_s"] = round(sorted(rates)[len(rates) // 2], 2)

    model_file = run_dir / MODEL_FILE
    skipped = [(str(f.path), f.error) for f in data.failed]
    if trainer.is_global_zero:
        _export(cfg, module, data, model_file, metrics)
        write_json(run_dir / "metrics.json", metrics)
        write_json(run_dir / "data.json", _data_summary(data))
    trainer.strategy.barrier("torchmusic-export")
    return TrainResult(model_file=model_file, run_dir=run_dir, metrics=metrics, skipped=skipped)


def _build_module(cfg: TrainConfig, *, classes: list[str], multi_label: bool) -> ClassifierModule:
    from torchmusic.models import build_classifier, clip_frames, feature_bins

    feature = cfg.feature_config()
    model = build_classifier(
        cfg.model,
        n_mels=feature_bins(feature),
        n_frames=clip_frames(cfg.clip_seconds, feature),
        n_classes=len(classes),
        **cfg.model_config,
    )
    return ClassifierModule(
        model,
        n_classes=len(classes),
        multi_label=multi_label,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        scheduler=cfg.scheduler,
        max_epochs=cfg.max_epochs,
        augment=cfg.augment,
        feature_kind=feature.kind,
        monitor=monitor_metric(multi_label, cfg.monitor),
        train_config=cfg.to_dict(),
    )


def _export(
    cfg: TrainConfig,
    module: ClassifierModule,
    data: ClassificationData,
    path: Path,
    metrics: dict[str, Any],
) -> Path:
    from torchmusic.models import ClassifierSpec, architecture_of, save_classifier

    model = module.model.to("cpu").float().eval()
    spec = ClassifierSpec(
        architecture=architecture_of(model),
        model_config={},  # save_classifier takes it from model.config
        labels=list(data.classes),
        multi_label=bool(data.multi_label),
        feature=cfg.feature_config().to_dict(),
        clip_seconds=float(cfg.clip_seconds),
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float | str)},
        extra={
            "train_config": cfg.to_dict(),
            "tracks": {name: len(part) for name, part in data.parts.items()},
        },
    )
    return save_classifier(path, model, spec)


def _data_summary(data: ClassificationData) -> dict[str, Any]:
    return {
        "classes": data.classes,
        "multi_label": data.multi_label,
        "tracks": {name: len(part) for name, part in data.parts.items()},
        "skipped": [{"path": str(f.path), "error": f.error} for f in data.failed],
    }


def _train_baseline(cfg: TrainConfig, run_dir: Path, *, progress: bool) -> TrainResult:
    """``model="mfcc-svm"``: the scikit-learn baseline, fitted by its own module.

    It computes its own MFCC statistics (and skips unreadable files itself), so
    only the tracks and the split come from here (see torchmusic.training.baseline).
    """
    from torchmusic.models import read_spec
    from torchmusic.training.baseline import fit_baseline

    parts = split_tracks(load_tracks(cfg), cfg)
    if progress:
        print("\n" + split_table(parts), file=sys.stderr)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.to_yaml(run_dir / "config.yaml")
    model_file = Path(fit_baseline(cfg, parts[TRAIN], parts[VALID], progress=progress))
    spec = read_spec(model_file)
    metrics = dict(spec.metrics)
    write_json(run_dir / "metrics.json", metrics)
    skipped = [(s["path"], s["error"]) for s in spec.extra.get("skipped_files", [])]
    return TrainResult(model_file=model_file, run_dir=run_dir, metrics=metrics, skipped=skipped)
