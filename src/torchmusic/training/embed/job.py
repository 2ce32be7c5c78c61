"""``train_embedder``: audio folder -> embedding model file (autoencoder or contrastive).

A run folder holds::

    run_dir/
      config.yaml                 the full configuration (checked on --resume)
      data.json                   tracks used for training / validation, skipped files
      checkpoints/last.ckpt       refreshed every epoch
      checkpoints/best-*.ckpt     lowest validation loss (training loss without validation)
      csv/version_K/metrics.csv   losses per epoch
      metrics.json                figures of the exported model
      model.safetensors           the embedding model file (``torchmusic.embedder``)

Features of whole tracks are computed once into the feature cache; every training
item is a random crop of ``clip_seconds`` from the cached features:

- ``autoencoder``: one crop, reconstructed (mean squared error on the per-clip
  standardised log-mel);
- ``contrastive``: two independent crops of the same track, augmented
  (equaliser, frequency shift, SpecAugment masks), pulled together by NT-Xent
  while crops of the other tracks in the batch are pushed apart (COLA / SimCLR).

Validation uses fixed crops of held-out tracks (seeded), so its loss is
comparable between epochs; for the contrastive model ``val_top1`` is the share of
held-out crops whose nearest other-view crop comes from the same track.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

from torchmusic.errors import ParameterError
from torchmusic.training.embed.data import EmbedData
from torchmusic.training.embed.module import EmbedderModule
from torchmusic.training.embed.settings import EmbedTrainConfig
from torchmusic.training.engine import (
    RunResult,
    build_trainer,
    callback,
    evaluate_best,
    finish_run,
    fit,
    plain_metrics,
    start_run,
)


# -- the job -----------------------------------------------------------------------------
class EmbedTrainResult(RunResult):
    """Outcome of :func:`train_embedder` (see :class:`RunResult`)."""


def train_embedder(cfg: EmbedTrainConfig, *, progress: bool = True) -> EmbedTrainResult:
    """Train an autoencoder or contrastive embedder and export the best checkpoint.

    Parameters
    ----------
    cfg : EmbedTrainConfig
    progress : bool
        Progress bars and summaries.

    Returns
    -------
    EmbedTrainResult
        ``model_file`` (``run_dir/model.safetensors``, usable with
        ``torchmusic embed --model`` and :func:`torchmusic.embed.get_embedder`).

    Raises
    ------
    ParameterError
        Invalid settings, or ``resume`` with settings that differ from the run's.
    DataError
        No readable audio, or a run folder that already holds a run.

    Examples
    --------
    >>> cfg = EmbedTrainConfig(data="music/", model="contrastive", max_epochs=5)
    >>> train_embedder(cfg).model_file  # doctest: +SKIP
    PosixPath('runs/music-contrastive/model.safetensors')
    """
    from torchmusic.models.embed import EmbeddingModelSpec, build_embedder, save_embedding_model

    if not isinstance(cfg, EmbedTrainConfig):
        raise ParameterError(f"cfg must be an EmbedTrainConfig, got {type(cfg).__name__}")
    cfg = cfg.validate().with_absolute_paths()
    cfg.data = cfg.data_paths()
    first = Path(cfg.data[0])
    run = start_run(
        cfg, default_dir=Path("runs") / f"{first.stem or first.name}-{cfg.model}", progress=progress
    )
    data = EmbedData(cfg, progress=progress)
    feature, n_frames = data.feature, data.n_frames
    train_loader, val_loader = data.train_loader(), data.val_loader()
    train_ids, val_ids = data.train_ids, data.val_ids
    model = build_embedder(cfg.model, n_mels=feature.n_bins, n_frames=n_frames, **cfg.model_config)
    module = EmbedderModule(
        model,
        kind=cfg.model,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        max_epochs=cfg.max_epochs,
        augment=data.augment,
        train_config=cfg.to_dict(),
        scheduler=cfg.scheduler,
        hop_seconds=feature.hop_length / feature.sr,
    )
    monitor = "val_loss" if val_loader is not None else "train_loss"
    trainer = build_trainer(cfg, run, monitor=monitor, tensorboard=False)
    fit(trainer, module, run, train_dataloaders=train_loader, val_dataloaders=val_loader)
    metrics: dict[str, Any] = {
        k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1
    }
    best = callback(trainer, ModelCheckpoint)
    metrics.update(evaluate_best(trainer, module, run, val_dataloaders=val_loader))
    metrics.update(
        monitor=monitor,
        best_score=float(best.best_model_score) if best.best_model_score is not None else None,
        tracks_train=len(train_ids),
        tracks_valid=len(val_ids),
    )
    skipped = [(str(f.path), f.error) for f in data.report.failed]
    tracks = [str(f.path) for f in data.report.ok]

    def export(m: dict[str, Any]) -> None:
        spec = EmbeddingModelSpec(
            architecture=cfg.model,
            model_config={},
            feature=feature.to_dict(),
            clip_seconds=float(cfg.clip_seconds),
            metrics=plain_metrics(m),
            extra={"train_config": cfg.to_dict()},
        )
        save_embedding_model(run.model_file, module.model.to("cpu").float().eval(), spec)

    data_json = {
        "train": [tracks[i] for i in train_ids],
        "valid": [tracks[i] for i in val_ids],
        "skipped": [{"path": p, "error": e} for p, e in skipped],
    }
    finish_run(trainer, run, metrics, export=export, files={"data.json": data_json})
    return EmbedTrainResult(
        model_file=run.model_file, run_dir=run.path, metrics=metrics, skipped=skipped
    )
