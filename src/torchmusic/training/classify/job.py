"""``train_classifier``: one call from a :class:`TrainConfig` to a model file.

A run folder holds everything of one run::

    run_dir/
      config.yaml                 the full configuration (checked on --resume)
      data.json                   classes, split source, the tracks of each split
                                  (track id, path, content digest), skipped files
      checkpoints/last.ckpt       refreshed every epoch (and every N steps if asked)
      checkpoints/best-*.ckpt     best epoch by the validation metric (keep_weights: best)
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

import sys
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import LearningRateMonitor

from torchmusic.errors import ParameterError
from torchmusic.training.classify.backbone import (
    Backbone,
    build_backbone_model,
    resolve_backbone,
)
from torchmusic.training.classify.data import (
    TRAIN,
    VALID,
    SplitPlan,
    load_tracks,
    plan_splits,
    resolve_clip_seconds,
    seen_tracks,
    split_table,
    track_records,
)
from torchmusic.training.classify.datamodule import ClassificationData
from torchmusic.training.classify.module import ClassifierModule, monitor_metric, monitor_mode
from torchmusic.training.classify.settings import MIN_VALID_TRACKS_FOR_BEST, TrainConfig
from torchmusic.training.engine import (
    MODEL_FILE,  # noqa: F401  (re-exported: torchmusic.training.classify.MODEL_FILE)
    RunFolder,
    RunResult,
    build_trainer,
    evaluate_best,
    finish_run,
    fit,
    is_global_zero,
    median_throughput,
    plain_metrics,
    resolve_accelerator,
    start_run,
    write_json,
)


class TrainResult(RunResult):
    """Outcome of :func:`train_classifier` (see :class:`RunResult`).

    ``metrics`` holds the ``val_*`` (and ``test_*`` when there is a test split)
    clip-level figures of the best checkpoint, ``best_checkpoint``,
    ``epochs_trained``, ``global_step`` and ``train_clips_per_s``; ``skipped``
    the files that could not be decoded.
    """


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
        The exported model file (``run_dir/model.safetensors``), the run folder,
        the best checkpoint's figures and the skipped files.

    Raises
    ------
    ParameterError
        Invalid settings; ``resume`` with settings that differ from the run's.
    DataError
        Bad data (empty folder, a single class, missing labels, no validation
        tracks, every file undecodable); a run folder that already holds a run
        while ``resume`` is False, or none to resume.

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
    # A backbone's features and clip length become the recipe's (or it is refused)
    # before anything is read or written.
    backbone = resolve_backbone(cfg)
    # Sized before the run starts, so config.yaml (and a resume's identity check)
    # holds the clip length actually trained on.
    tracks = load_tracks(cfg)
    resolve_clip_seconds(cfg, tracks)
    run = start_run(cfg, default_dir=default_run_dir(cfg), progress=progress)
    if cfg.model == "mfcc-svm":
        return _train_baseline(cfg, run)
    on_gpu = resolve_accelerator(cfg.accelerator) in ("gpu", "cuda")
    zero = is_global_zero()
    data = ClassificationData(cfg, on_gpu=on_gpu, progress=progress and zero, report=zero)
    # Classes and sizes are known from the file list alone (no decoding needed).
    module = _build_module(
        cfg, classes=tracks.classes, multi_label=tracks.multi_label, backbone=backbone
    )
    keep = kept_weights(cfg, plan_splits(tracks, cfg))
    if progress and zero:
        print(f"weights kept: {keep} ({_KEEP_REASONS[keep]})", file=sys.stderr)
    trainer = build_trainer(
        cfg,
        run,
        # No monitor: no best checkpoint and no early stopping, so the final
        # epoch's weights (last.ckpt) are evaluated and exported.
        monitor=module.monitor if keep == "best" else None,
        mode=monitor_mode(module.monitor),
        callbacks=[LearningRateMonitor(logging_interval="epoch")],
    )
    with warnings.catch_warnings():
        if getattr(module.model, "frozen", False):
            # A frozen backbone encoder stays in eval mode on purpose (its BatchNorm
            # statistics must not move): Lightning's warning about it does not apply.
            warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
        fit(trainer, module, run, datamodule=data)
    # evaluate_best loads the best weights into `module` on every rank, so the
    # export below writes exactly the evaluated model.
    metrics = evaluate_best(
        trainer, module, run, datamodule=data, test=cfg.test_after_fit and data.has_test
    )
    metrics["monitor"] = module.monitor
    metrics["kept_weights"] = keep
    rate = median_throughput(trainer)
    if rate is not None:
        metrics["train_clips_per_s"] = round(rate, 2)
    records = track_records(data.parts)
    finish_run(
        trainer,
        run,
        metrics,
        export=lambda m: _export(
            cfg, module, data, run.model_file, m, records=records, backbone=backbone
        ),
        files={"data.json": _data_summary(data, records)},
    )
    skipped = [(str(f.path), f.error) for f in data.failed]
    return TrainResult(
        model_file=run.model_file, run_dir=run.path, metrics=metrics, skipped=skipped
    )


_KEEP_REASONS = {
    "best": "the epoch with the best validation metric",
    "last": "the final epoch's; no early stopping",
}


def kept_weights(cfg: TrainConfig, plan: SplitPlan) -> str:
    """``"best"`` or ``"last"``: what ``cfg.keep_weights`` means for these splits.

    ``auto`` keeps the final weights when the validation split has fewer than
    :data:`MIN_VALID_TRACKS_FOR_BEST` tracks: picking an epoch (and stopping
    early) by the metric of a handful of tracks chose the first epoch's weights
    on the drums benchmark (docs/benchmarks.md, "Default recipes").
    """
    if cfg.keep_weights != "auto":
        return cfg.keep_weights
    valid = plan.parts.get(VALID)
    n_valid = len(valid) if valid is not None else 0
    return "best" if n_valid >= MIN_VALID_TRACKS_FOR_BEST else "last"


def _build_module(
    cfg: TrainConfig, *, classes: list[str], multi_label: bool, backbone: Backbone | None = None
) -> ClassifierModule:
    from torchmusic.models import build_classifier

    feature = cfg.feature_config()
    if backbone is not None:
        model = build_backbone_model(cfg, backbone, n_classes=len(classes))
    else:
        model = build_classifier(
            cfg.model,
            n_mels=feature.n_bins,
            n_frames=feature.clip_frames(cfg.clip_seconds),
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
        backbone_lr_scale=cfg.backbone_lr_scale,
    )


def _export(
    cfg: TrainConfig,
    module: ClassifierModule,
    data: ClassificationData,
    path: Path,
    metrics: dict[str, Any],
    *,
    records: dict[str, list[dict[str, str]]],
    backbone: Backbone | None = None,
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
        metrics=plain_metrics(metrics),
        extra={
            "train_config": cfg.to_dict(),
            "tracks": {name: len(part) for name, part in data.parts.items()},
            "split": data.plan.to_dict() if data.plan is not None else None,
            # What `torchmusic evaluate` checks: no held-out figures on these tracks.
            "seen_tracks": seen_tracks(records),
        },
    )
    if backbone is not None:
        # Provenance only: the encoder's config and weights are in the file itself.
        spec.extra["backbone"] = backbone.provenance()
    return save_classifier(path, model, spec)


def _data_summary(
    data: ClassificationData, records: dict[str, list[dict[str, str]]]
) -> dict[str, Any]:
    return _summary(data.classes, data.multi_label, data.parts, data.plan, records, data.failed)


def _summary(
    classes: list[str],
    multi_label: bool,
    parts: dict[str, Any],
    plan: SplitPlan | None,
    records: dict[str, list[dict[str, str]]],
    failed: list[Any],
) -> dict[str, Any]:
    """``data.json``: classes, the split rule, tracks per split and which ones, skipped files."""
    return {
        "classes": list(classes),
        "multi_label": bool(multi_label),
        "split": plan.to_dict() if plan is not None else None,
        "tracks": {name: len(part) for name, part in parts.items()},
        "splits": records,
        "skipped": [
            {
                "path": str(f["path"] if isinstance(f, dict) else f.path),
                "error": f["error"] if isinstance(f, dict) else f.error,
            }
            for f in failed
        ],
    }


def _train_baseline(cfg: TrainConfig, run: RunFolder) -> TrainResult:
    """``model="mfcc-svm"``: the scikit-learn baseline, fitted by its own module.

    It computes its own MFCC statistics (and skips unreadable files itself), so
    only the tracks and the split come from here (see
    :mod:`torchmusic.training.classify.baseline`).
    """
    from torchmusic.models import load_classifier, save_classifier
    from torchmusic.training.classify.baseline import fit_baseline

    ds = load_tracks(cfg)
    plan = plan_splits(ds, cfg)
    parts = plan.parts
    if run.progress:
        print("\n" + plan.summary() + "\n" + split_table(parts), file=sys.stderr)
    run.save_config()
    model_file = fit_baseline(
        parts[TRAIN],
        parts[VALID],
        out_dir=run.path,
        feature=cfg.feature,
        clip_seconds=cfg.clip_seconds,
        val_hop_seconds=cfg.val_hop_seconds,
        cache_dir=cfg.cache_dir,
        model_config=cfg.model_config,
        label_column=cfg.label_column,
        progress=run.progress,
    )
    # The model file and data.json record which tracks trained and validated the
    # model, as for the networks (see _export).
    records = track_records(parts)
    net, spec = load_classifier(model_file)
    spec.extra.update(split=plan.to_dict(), seen_tracks=seen_tracks(records))
    save_classifier(model_file, net, spec)
    metrics = dict(spec.metrics)
    write_json(run.path / "metrics.json", metrics)
    skipped_files = spec.extra.get("skipped_files", [])
    write_json(
        run.path / "data.json",
        _summary(ds.classes, ds.multi_label, parts, plan, records, skipped_files),
    )
    skipped = [(s["path"], s["error"]) for s in skipped_files]
    return TrainResult(model_file=model_file, run_dir=run.path, metrics=metrics, skipped=skipped)
