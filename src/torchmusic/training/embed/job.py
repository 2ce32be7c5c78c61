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

import dataclasses
import os
import sys
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from torchmusic.data.tracks import feature_pad_value
from torchmusic.errors import DataError, ParameterError
from torchmusic.training.config import _coerce, _parse_scalar, _suggest
from torchmusic.training.engine import (
    LAST_CKPT,
    latest_checkpoint,
    quiet_lightning,
    resolve_accelerator,
    resolve_precision,
    write_json,
)

MODEL_FILE = "model.safetensors"
KINDS = ("autoencoder", "contrastive")
# Views of the contrastive model differ by these (see torchmusic.training.augment);
# the autoencoder sees clean crops.
CONTRASTIVE_AUGMENT = {"eq_db": 6.0, "freq_shift": 0.04, "time_mask": 0.1, "freq_mask": 0.1}
# Settings that define what a run learns (must match on --resume).
_IDENTITY = ("data", "model", "model_config", "feature", "clip_seconds", "seed", "val_fraction")


@dataclasses.dataclass
class EmbedTrainConfig:
    """Settings of an embedding training run (YAML recipe + ``--key value`` overrides).

    Parameters
    ----------
    data : str or list of str
        Audio folder(s) or files (folders are searched recursively), or a
        manifest whose ``path`` column lists the files.
    model : {"autoencoder", "contrastive"}
    model_config : dict
        Overrides of the network config (``dim``, ``channels``, ``temperature``, ...).
    feature : dict
        :class:`~torchmusic.features.FeatureConfig` settings (default: 64-band log-mel).
    clip_seconds : float
        Crop length (the embedding window at inference).
    crops_per_track : int
        Random crops per track per epoch.
    val_fraction : float
        Share of tracks held out for validation (0: none; at least one track when > 0).
    augment : dict or None
        Augmentation of the contrastive views (default :data:`CONTRASTIVE_AUGMENT`).
    batch_size, max_epochs, lr, weight_decay, seed : number
        Optimisation (AdamW, cosine schedule over ``max_epochs``).
    out_dir : str or None
        Run folder (default ``runs/<data name>-<model>``).
    cache_dir : str or None
        Feature cache (default: ``$TORCHMUSIC_CACHE_DIR`` or ``~/.cache/torchmusic/features``).
    extract_workers : int or None
        Processes computing features before training.
    accelerator, devices, num_nodes, strategy, precision
        Passed to :class:`lightning.pytorch.Trainer`.
    resume : bool
        Continue the run in ``out_dir`` from ``checkpoints/last.ckpt``.
    """

    data: str | list[str] | None = None
    model: str = "contrastive"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    feature: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"kind": "logmel", "n_mels": 64}
    )
    clip_seconds: float = 3.0
    crops_per_track: int = 4
    val_fraction: float = 0.1
    augment: dict[str, float] | None = None
    batch_size: int = 32
    max_epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    out_dir: str | None = None
    cache_dir: str | None = None
    extract_workers: int | None = None
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | int | None = None
    resume: bool = False
    log_every_n_steps: int = 10

    # -- building ------------------------------------------------------------------
    @classmethod
    def from_sources(
        cls,
        *,
        config: str | os.PathLike[str] | None = None,
        overrides: Sequence[str] = (),
        **settings: Any,
    ) -> EmbedTrainConfig:
        """Recipe (YAML), then explicit ``settings`` (None skipped), then ``--key value`` overrides.

        Examples
        --------
        >>> cfg = EmbedTrainConfig.from_sources(model="autoencoder", overrides=["--lr", "0.01"])
        >>> cfg.model, cfg.lr
        ('autoencoder', 0.01)
        """
        cfg = cls()
        if config is not None:
            import yaml

            path = Path(config)
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except OSError as exc:
                raise DataError(f"cannot read config {str(path)!r}: {exc.strerror}") from exc
            except yaml.YAMLError as exc:
                raise DataError(f"config {str(path)!r} is not valid YAML: {exc}") from exc
            if not isinstance(data, Mapping):
                raise DataError(f"config {str(path)!r} must hold a mapping of settings")
            for key, value in data.items():
                cfg.set(str(key), _resolve(str(key), value, path.resolve().parent))
        for key, value in settings.items():
            if value is not None:
                cfg.set(key, value)
        tokens = list(overrides)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if not token.startswith("--") or len(token) <= 2:
                raise ParameterError(
                    f"unexpected argument {token!r}; overrides look like --key value"
                )
            key, eq, raw = token[2:].partition("=")
            if not eq:
                has_value = i + 1 < len(tokens) and not tokens[i + 1].startswith("--")
                raw = tokens[i + 1] if has_value else "true"
                i += has_value
            cfg.set(key, _parse_scalar(raw))
            i += 1
        return cfg

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` (dotted for dict settings: ``model_config.dim``), checking its type."""
        key = key.replace("-", "_")
        name, _, sub = key.partition(".")
        hints = typing.get_type_hints(EmbedTrainConfig)
        if name not in hints:
            raise ParameterError(f"unknown setting {key!r}{_suggest(name, hints)}")
        if sub:
            current = getattr(self, name)
            if not isinstance(current, dict | None) or name not in (
                "model_config",
                "feature",
                "augment",
            ):
                raise ParameterError(
                    f"setting {name!r} is not a mapping, so {key!r} does not exist"
                )
            value = {**(current or {}), sub: value}
        setattr(self, name, _coerce(name, value, hints[name]))

    def validate(self) -> EmbedTrainConfig:
        """Check values; returns self (:class:`ParameterError` on the first problem)."""
        if not self.data:
            raise ParameterError("data is not set: give --data AUDIO_FOLDER")
        if self.model not in KINDS:
            raise ParameterError(f"model={self.model!r}; expected one of {KINDS}")
        for name in ("batch_size", "max_epochs", "crops_per_track", "num_nodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if self.model == "contrastive" and self.batch_size < 2:
            raise ParameterError("contrastive training needs batch_size >= 2 (negatives)")
        if not 0 <= self.val_fraction < 1:
            raise ParameterError(f"val_fraction={self.val_fraction!r} must be in [0, 1)")
        if not (self.clip_seconds > 0 and self.lr > 0 and self.weight_decay >= 0):
            raise ParameterError("clip_seconds and lr must be > 0, weight_decay >= 0")
        self.feature_config()
        return self

    def feature_config(self):
        """The :class:`~torchmusic.features.FeatureConfig` of ``feature``."""
        from torchmusic.features.config import FeatureConfig

        return FeatureConfig.from_dict(dict(self.feature))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON-able)."""
        return dataclasses.asdict(self)

    def data_paths(self) -> list[str]:
        """``data`` as a list of absolute paths; a manifest (CSV/TSV/JSONL) gives its ``path`` column.

        Manifest paths are relative to the manifest's folder, as in
        :class:`~torchmusic.data.ManifestDataset`.
        """
        from torchmusic.data.manifest import read_manifest

        items = [self.data] if isinstance(self.data, str) else list(self.data or [])
        out = []
        for item in items:
            p = Path(item).expanduser()
            if p.is_file() and p.suffix.lower() in (".csv", ".tsv", ".jsonl", ".ndjson"):
                columns, rows = read_manifest(p)
                if "path" not in columns:
                    raise DataError(f"manifest {str(p)!r} has no 'path' column")
                out += [str((p.parent / row["path"]).resolve()) for _, row in rows if row["path"]]
            else:
                out.append(str(p.resolve()))
        return out


def _resolve(key: str, value: Any, base: Path) -> Any:
    """Relative paths in a recipe (``data``, ``out_dir``, ``cache_dir``) are relative to it."""

    def one(p: Any) -> Any:
        if not isinstance(p, str) or not p:
            return p
        expanded = Path(os.path.expandvars(p)).expanduser()
        return str(expanded if expanded.is_absolute() else (base / expanded).resolve())

    if key in ("out_dir", "cache_dir"):
        return one(value)
    if key == "data":
        return [one(p) for p in value] if isinstance(value, list) else one(value)
    return value


# -- data --------------------------------------------------------------------------------
class TrackCrops(torch.utils.data.Dataset):
    """Random (training) or fixed (validation) crops of cached whole-track features.

    Item ``i`` is track ``i % n_tracks``: ``(views, track)`` where ``views`` is
    ``(n_views, n_bins, n_frames)``. Tracks shorter than a clip are padded with
    their silence level (as the classification datasets do).
    """

    def __init__(
        self,
        features: Sequence[np.ndarray],
        *,
        n_frames: int,
        views: int,
        crops_per_track: int,
        pad_values: Sequence[float],
        seed: int | None = None,
    ) -> None:
        self.features, self.n_frames, self.views = list(features), n_frames, views
        self.crops, self.pad_values, self.seed = crops_per_track, list(pad_values), seed

    def __len__(self) -> int:
        return len(self.features) * self.crops

    def _crop(self, track: int, rng: np.random.Generator | None) -> torch.Tensor:
        full = self.features[track]
        slack = full.shape[-1] - self.n_frames
        start = 0
        if slack > 0:
            start = int(rng.integers(0, slack + 1)) if rng else int(torch.randint(slack + 1, ()))
        part = torch.from_numpy(np.array(full[:, start : start + self.n_frames], np.float32))
        if part.shape[-1] < self.n_frames:
            part = F.pad(part, (0, self.n_frames - part.shape[-1]), value=self.pad_values[track])
        return part

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        track = index % len(self.features)
        rng = None if self.seed is None else np.random.default_rng([self.seed, index])
        return torch.stack([self._crop(track, rng) for _ in range(self.views)]), track


def _load_features(cfg: EmbedTrainConfig, *, progress: bool):
    """Cached whole-track features of the data's audio files, and the failures."""
    from torchmusic.data.cache import default_cache_dir
    from torchmusic.data.extract import extract_features

    cache_dir = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
    report = extract_features(
        cfg.data_paths(),
        cfg.feature_config(),
        cache_dir=cache_dir,
        workers=cfg.extract_workers,
        progress=progress,
    )
    if not report.ok:
        raise DataError(f"no readable audio in {cfg.data_paths()}: {report.summary()}")
    return report


def split_tracks(n: int, *, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded ``(train, valid)`` track indices; valid has >= 1 track when the fraction > 0.

    Examples
    --------
    >>> train, valid = split_tracks(10, val_fraction=0.2, seed=0)
    >>> len(train), len(valid), sorted(train + valid) == list(range(10))
    (8, 2, True)
    """
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_val = 0 if val_fraction == 0 or n < 3 else max(1, round(n * val_fraction))
    return sorted(order[n_val:]), sorted(order[:n_val])


# -- the Lightning module ----------------------------------------------------------------
class EmbedderModule(pl.LightningModule):
    """Training and validation steps of an autoencoder or a contrastive encoder.

    Checkpoints hold tensors and plain values only (``weights_only=True`` loads them).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        kind: str,
        lr: float,
        weight_decay: float,
        max_epochs: int,
        augment: Mapping[str, float] | None,
        train_config: dict[str, Any],
    ) -> None:
        super().__init__()
        self.model, self.kind = model, kind
        self.lr, self.weight_decay, self.max_epochs = lr, weight_decay, max_epochs
        self.augment = dict(augment or {})
        self.train_config = train_config

    def _loss(self, views: torch.Tensor, tracks: torch.Tensor, *, train: bool) -> torch.Tensor:
        from torchmusic.models.embed.contrastive import nt_xent_loss

        if self.kind == "autoencoder":
            x = views[:, 0]
            return self.model.reconstruction_loss(x, self.model(x))
        a, b = views[:, 0], views[:, 1]
        if train and self.augment:
            from torchmusic.training.augment import augment_batch

            a, b = augment_batch(a, settings=self.augment), augment_batch(b, settings=self.augment)
        temperature = self.model.config.temperature
        return nt_xent_loss(self.model(a), self.model(b), temperature=temperature, groups=tracks)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        views, tracks = batch
        loss = self._loss(views, tracks, train=True)
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        views, tracks = batch
        if self.kind == "contrastive" and views.shape[0] < 2:
            return
        self.log("val_loss", self._loss(views, tracks, train=False), prog_bar=True)
        if self.kind == "contrastive":
            a, b = self.model.embed(views[:, 0]), self.model.embed(views[:, 1])
            nearest = (a @ b.T).argmax(dim=1)
            self.log("val_top1", (tracks[nearest] == tracks).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.max_epochs)
        return {"optimizer": opt, "lr_scheduler": sched}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["torchmusic"] = {"train_config": self.train_config}


# -- the job -----------------------------------------------------------------------------
@dataclasses.dataclass
class EmbedTrainResult:
    """Outcome of :func:`train_embedder`: the model file, run folder, metrics, skipped files."""

    model_file: Path
    run_dir: Path
    metrics: dict[str, Any]
    skipped: list[tuple[str, str]]


def _run_dir(cfg: EmbedTrainConfig) -> tuple[Path, Path | None]:
    """The run folder and the checkpoint to resume from (None: fresh run)."""
    import yaml

    if cfg.out_dir:
        run_dir = Path(cfg.out_dir).expanduser().resolve()
    else:
        first = Path(cfg.data_paths()[0])
        run_dir = (Path("runs") / f"{first.stem or first.name}-{cfg.model}").resolve()
    last = run_dir / "checkpoints" / LAST_CKPT
    if not cfg.resume:
        if last.exists():
            raise DataError(
                f"run folder {str(run_dir)!r} already holds a run; pass --resume to continue it "
                "or choose another --out"
            )
        return run_dir, None
    saved = run_dir / "config.yaml"
    if saved.is_file():
        old = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
        new = cfg.to_dict()
        diffs = [
            f"{k}: run {old.get(k)!r}, now {new[k]!r}" for k in _IDENTITY if old.get(k) != new[k]
        ]
        if diffs:
            raise ParameterError(
                f"cannot resume {str(run_dir)!r} with other settings: " + "; ".join(diffs)
            )
    if not last.is_file():
        print(f"torchmusic: nothing to resume in {run_dir}; starting from scratch", file=sys.stderr)
        return run_dir, None
    return run_dir, last


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
    import yaml

    from torchmusic.models.embed import EmbeddingModelSpec, build_embedder, save_embedding_model
    from torchmusic.models.modelfile import clip_frames, feature_bins

    if not isinstance(cfg, EmbedTrainConfig):
        raise ParameterError(f"cfg must be an EmbedTrainConfig, got {type(cfg).__name__}")
    cfg = dataclasses.replace(cfg).validate()
    cfg.data = cfg.data_paths()
    run_dir, ckpt = _run_dir(cfg)
    cfg.out_dir = str(run_dir)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    feature = cfg.feature_config()
    n_frames = clip_frames(cfg.clip_seconds, feature)
    report = _load_features(cfg, progress=progress)
    arrays = [f.load(mmap=True) for f in report.ok]
    pads = [feature_pad_value(np.asarray(a), feature) for a in arrays]
    train_ids, val_ids = split_tracks(len(arrays), val_fraction=cfg.val_fraction, seed=cfg.seed)
    views = 2 if cfg.model == "contrastive" else 1
    if views == 2 and len(val_ids) == 1:
        # One held-out track has no negatives to be told apart from: train on it instead.
        train_ids, val_ids = sorted(train_ids + val_ids), []
    augment = (CONTRASTIVE_AUGMENT if cfg.augment is None else cfg.augment) if views == 2 else None

    def crops(ids: list[int], *, n: int, seed: int | None) -> TrackCrops:
        return TrackCrops(
            [arrays[i] for i in ids],
            n_frames=n_frames,
            views=views,
            crops_per_track=n,
            pad_values=[pads[i] for i in ids],
            seed=seed,
        )

    train_loader = torch.utils.data.DataLoader(
        crops(train_ids, n=cfg.crops_per_track, seed=None),
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=views == 2 and len(train_ids) * cfg.crops_per_track > cfg.batch_size,
    )
    val_loader = (
        # Several fixed crops per held-out track: with few tracks, one crop each would
        # make the validation loss (and the checkpoint it picks) mostly noise.
        torch.utils.data.DataLoader(
            crops(val_ids, n=min(cfg.crops_per_track, 4), seed=cfg.seed),
            batch_size=cfg.batch_size,
        )
        if val_ids
        else None
    )
    model = build_embedder(
        cfg.model, n_mels=feature_bins(feature), n_frames=n_frames, **cfg.model_config
    )
    module = EmbedderModule(
        model,
        kind=cfg.model,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        max_epochs=cfg.max_epochs,
        augment=augment,
        train_config=cfg.to_dict(),
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    monitor = "val_loss" if val_loader is not None else "train_loss"
    best = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best-{epoch:03d}",
        monitor=monitor,
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
    )
    accelerator = resolve_accelerator(cfg.accelerator)
    with quiet_lightning(verbose=progress):
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=cfg.devices,
            num_nodes=cfg.num_nodes,
            strategy=cfg.strategy,
            precision=resolve_precision(cfg.precision, accelerator),
            max_epochs=cfg.max_epochs,
            callbacks=[best, latest_checkpoint(run_dir)],
            logger=CSVLogger(run_dir, name="csv"),
            default_root_dir=run_dir,
            enable_progress_bar=progress,
            enable_model_summary=progress,
            log_every_n_steps=cfg.log_every_n_steps,
            num_sanity_val_steps=0,
        )
        trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt, weights_only=True)
        best_path = best.best_model_path or str(run_dir / "checkpoints" / LAST_CKPT)
        state = torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"]
    module.load_state_dict(state)
    metrics: dict[str, Any] = {
        k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1
    }
    metrics.update(
        monitor=monitor,
        best_score=float(best.best_model_score) if best.best_model_score is not None else None,
        best_checkpoint=Path(best_path).name,
        epochs_trained=int(trainer.current_epoch),
        tracks_train=len(train_ids),
        tracks_valid=len(val_ids),
    )
    model_file = run_dir / MODEL_FILE
    skipped = [(str(f.path), f.error) for f in report.failed]
    if trainer.is_global_zero:
        spec = EmbeddingModelSpec(
            architecture=cfg.model,
            model_config={},
            feature=feature.to_dict(),
            clip_seconds=float(cfg.clip_seconds),
            metrics={k: v for k, v in metrics.items() if isinstance(v, int | float | str)},
            extra={"train_config": cfg.to_dict()},
        )
        save_embedding_model(model_file, module.model.to("cpu").float().eval(), spec)
        write_json(run_dir / "metrics.json", metrics)
        tracks = [str(f.path) for f in report.ok]
        write_json(
            run_dir / "data.json",
            {
                "train": [tracks[i] for i in train_ids],
                "valid": [tracks[i] for i in val_ids],
                "skipped": [{"path": p, "error": e} for p, e in skipped],
            },
        )
    return EmbedTrainResult(
        model_file=model_file, run_dir=run_dir, metrics=metrics, skipped=skipped
    )
