"""``train_pianoroll``: JSB Chorales JSON -> piano-roll model file, through Lightning.

The exact-likelihood :class:`~torchmusic.models.symbolic.pianoroll.PianoRollModel`
is trained to minimise the negative log-likelihood in nats per frame (the quantity
reported by the Boulanger-Lewandowski protocol), with early stopping and
best-checkpoint selection on the validation NLL, and a wall-clock budget
(``max_minutes``) so a run fits a fixed CPU budget. A run folder holds::

    run_dir/
      config.yaml                 the full configuration (checked on resume)
      checkpoints/last.ckpt       refreshed every epoch (resume point)
      checkpoints/best-*.ckpt     best epoch by validation NLL
      csv/version_K/metrics.csv   one CSV per attempt (a resume starts a new one)
      metrics.json                valid/test NLL of the best checkpoint, minutes, epochs
      model.safetensors           the exported generator file (kind "pianoroll")

Example (the command line does the same with ``torchmusic train lm --model pianoroll``)::

    cfg = PianoRollTrainConfig.from_sources(
        config="configs/jsb.yaml", data="jsb-chorales-quarter.json", out_dir="runs/jsb"
    )
    result = train_pianoroll(cfg)
    result.metrics["test_nll"]
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import time
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, Timer
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, Dataset, Sampler
from torchmetrics.aggregation import SumMetric

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.config import _coerce, _parse_scalar, _resolve_paths, _suggest
from torchmusic.training.engine import (
    LAST_CKPT,
    check_run_dir,
    is_global_zero,
    latest_checkpoint,
    quiet_lightning,
    resolve_accelerator,
    resolve_precision,
    write_json,
)

MODEL_FILE = "model.safetensors"
SCHEDULERS = ("plateau", "cosine", "none")
# Settings that define what a run learns: a resume must not change them.
IDENTITY_KEYS = ("data", "model_config", "transpose", "seed")
_PATH_FIELDS = ("data", "out_dir")


# -- settings -----------------------------------------------------------------------------
@dataclasses.dataclass
class PianoRollTrainConfig:
    """Everything a piano-roll training run needs.

    Parameters
    ----------
    data : str
        JSB Chorales JSON file (``{"train","valid","test"}`` -> pieces -> frames ->
        MIDI pitches), e.g. ``jsb-chorales-quarter.json``.
    model_config : dict
        Fields of :class:`~torchmusic.models.symbolic.pianoroll.PianoRollConfig`.
    batch_size : int
        Pieces per batch (whole pieces: batches group pieces of similar length).
    max_epochs : int
        Upper bound on epochs (``max_minutes`` and ``patience`` usually stop first).
    max_minutes : float or None
        Wall-clock training budget (training + validation, kept across resumes);
        the best checkpoint so far is exported when it runs out. None: no budget.
    lr, weight_decay : float
        AdamW settings.
    grad_clip : float
        Gradient-norm clipping (0: off).
    scheduler : {"plateau", "cosine", "none"}
        Halve the learning rate after ``lr_patience`` epochs without a better
        validation NLL, cosine decay over ``max_epochs``, or constant.
    lr_patience : int
        Epochs without improvement before ``"plateau"`` halves the learning rate.
    patience : int
        Early stopping after this many epochs without improvement (0: off).
    transpose : int
        Training pieces are transposed by a random shift in ``-transpose..transpose``
        semitones, per piece and epoch, clipped so no note leaves the keyboard
        (0: off). Validation and test pieces are never transposed.
    seed : int
        Seeds initialisation, batch order and transpositions.
    out_dir : str or None
        Run folder (default ``runs/<data name>-pianoroll``).
    threads : int or None
        ``torch.set_num_threads`` for the run (None: torch's default).
    accelerator, devices, num_nodes, strategy, precision
        Passed to :class:`lightning.pytorch.Trainer` (precision None: fp32 on CPU,
        mixed precision on GPU).
    resume : bool
        Continue the run in ``out_dir`` from its ``last.ckpt``.
    test_after_fit : bool
        Score the best checkpoint on the test split.
    log_every_n_steps : int
        Logging interval of the training loss.
    """

    data: str | None = None
    model: str = "pianoroll"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    batch_size: int = 16
    max_epochs: int = 500
    max_minutes: float | None = 30.0
    lr: float = 2e-3
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    scheduler: str = "plateau"
    lr_patience: int = 3
    patience: int = 10
    transpose: int = 0
    seed: int = 0
    out_dir: str | None = None
    threads: int | None = None
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | int | None = None
    resume: bool = False
    test_after_fit: bool = True
    log_every_n_steps: int = 10

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            self.set(field.name, getattr(self, field.name))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
    ) -> PianoRollTrainConfig:
        """A config from a plain dict; unknown keys are an error (with a suggestion).

        Examples
        --------
        >>> PianoRollTrainConfig.from_dict({"batch_size": 8}).batch_size
        8
        """
        if not isinstance(data, Mapping):
            raise ParameterError(f"a training config must be a mapping of settings, got {data!r}")
        cfg = cls()
        for key, value in data.items():
            cfg.set(str(key), value, base_dir=base_dir)
        return cfg

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> PianoRollTrainConfig:
        """Read a YAML recipe (relative paths in it are relative to the recipe's folder)."""
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"training config {str(path)!r} does not exist") from None
        except (OSError, yaml.YAMLError) as exc:
            raise DataError(f"training config {str(path)!r} is not readable YAML: {exc}") from None
        try:
            return cls.from_dict(data or {}, base_dir=path.resolve().parent)
        except ParameterError as exc:
            raise ParameterError(f"{path}: {exc}") from None

    @classmethod
    def from_sources(
        cls,
        *,
        config: str | os.PathLike[str] | None = None,
        overrides: Sequence[str] = (),
        **settings: Any,
    ) -> PianoRollTrainConfig:
        """Recipe, then explicit ``settings`` (None values skipped), then ``--key value`` overrides.

        Examples
        --------
        >>> cfg = PianoRollTrainConfig.from_sources(overrides=["--model_config.time_hidden", "64"])
        >>> cfg.model_config
        {'time_hidden': 64}
        """
        cfg = cls.from_yaml(config) if config is not None else cls()
        for key, value in settings.items():
            if value is not None:
                cfg.set(key, value)
        tokens = list(overrides)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if not token.startswith("--") or len(token) <= 2:
                raise ParameterError(
                    f"unexpected argument {token!r}; overrides look like '--key value'"
                )
            key, eq, raw = token[2:].partition("=")
            if not eq:
                has_value = i + 1 < len(tokens) and not tokens[i + 1].startswith("--")
                raw = tokens[i + 1] if has_value else "true"
                i += int(has_value)
            cfg.set(key, _parse_scalar(raw))
            i += 1
        return cfg

    def set(self, key: str, value: Any, *, base_dir: str | os.PathLike[str] | None = None) -> None:
        """Set ``key`` (``"model_config.x"`` reaches into the model settings), type-checked."""
        key = key.replace("-", "_")
        name, _, sub = key.partition(".")
        hints = typing.get_type_hints(type(self))
        if name not in hints:
            raise ParameterError(f"unknown setting {key!r}{_suggest(name, hints)}")
        if sub:
            if name != "model_config":
                raise ParameterError(
                    f"setting {name!r} is not a mapping, so {key!r} does not exist"
                )
            value = {**self.model_config, sub: value}
        value = _coerce(name, value, hints[name])
        if base_dir is not None and name in _PATH_FIELDS:
            value = _resolve_paths("data", value, Path(base_dir))
        setattr(self, name, value)

    def validate(self) -> PianoRollTrainConfig:
        """Check ranges (and the model settings); returns self."""
        from torchmusic.models.symbolic.pianoroll import PianoRollConfig

        if not self.data:
            raise ParameterError("data is not set: give --data JSB.json")
        if self.model != "pianoroll":
            raise ParameterError(f"model={self.model!r}: this trainer only trains 'pianoroll'")
        for name in ("batch_size", "max_epochs", "num_nodes", "log_every_n_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        for name in ("patience", "lr_patience", "transpose"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be >= 0")
        if not self.lr > 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ParameterError(
                f"lr={self.lr!r} must be > 0, weight_decay={self.weight_decay!r} and "
                f"grad_clip={self.grad_clip!r} >= 0"
            )
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ParameterError(f"max_minutes={self.max_minutes!r} must be > 0 or null")
        if self.threads is not None and self.threads < 1:
            raise ParameterError(f"threads={self.threads!r} must be >= 1 or null")
        if self.scheduler not in SCHEDULERS:
            raise ParameterError(f"scheduler={self.scheduler!r}; expected one of {SCHEDULERS}")
        unknown = set(self.model_config) - {f.name for f in dataclasses.fields(PianoRollConfig)}
        if unknown:
            raise ParameterError(f"unknown model_config key(s) {sorted(unknown)} for pianoroll")
        PianoRollConfig(**self.model_config)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (checkpoints store this, never the object)."""
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """The settings that must not change when a run is resumed."""
        d = self.to_dict()
        return {k: d[k] for k in IDENTITY_KEYS}


# -- data ---------------------------------------------------------------------------------
class _Pieces(Dataset):
    """Piano rolls; ``dataset[list_of_indices]`` is a padded batch ``(roll, lengths)``."""

    def __init__(self, pieces: Sequence[np.ndarray]) -> None:
        self.pieces = [np.asarray(p, dtype=bool) for p in pieces]

    def __len__(self) -> int:
        return len(self.pieces)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        from torchmusic.models.symbolic.pianoroll import to_roll_batch

        return to_roll_batch([self.pieces[i] for i in indices])


class LengthBatches(Sampler[list[int]]):
    """Batches of pieces of similar length (little padding), for one process of a job.

    Training order: each epoch a seeded permutation is cut into pools of
    ``pool`` batches, each pool sorted by length and cut into batches, and the
    batches shuffled. Evaluation order: sorted by length. Under DDP each rank takes
    every ``world``-th batch; training batches are repeated so every rank runs the
    same number of steps.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        pool: int = 8,
    ) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world, self.pool = rank, world, pool
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        # Lightning calls this at every epoch start, so a resumed run continues the
        # same sequence of orders.
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        bs = self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable").tolist()
            batches = [order[i : i + bs] for i in range(0, len(order), bs)]
            return batches[self.rank :: self.world]
        rng = np.random.default_rng((self.seed, self.epoch))
        perm = rng.permutation(len(self.lengths))
        batches = []
        for i in range(0, len(perm), bs * self.pool):
            chunk = perm[i : i + bs * self.pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")].tolist()
            batches += [chunk[j : j + bs] for j in range(0, len(chunk), bs)]
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
        short = -len(batches) % self.world
        batches += batches[:short]
        return batches[self.rank :: self.world]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


class JSBData(pl.LightningDataModule):
    """Train/valid/test piano rolls as length-bucketed batches (whole pieces)."""

    def __init__(self, splits: dict[str, list[np.ndarray]], *, batch_size: int, seed: int) -> None:
        super().__init__()
        self.splits = {k: _Pieces(v) for k, v in splits.items()}
        self.batch_size, self.seed = batch_size, seed

    def _loader(self, split: str, *, shuffle: bool) -> DataLoader:
        data = self.splits[split]
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
        sampler = LengthBatches(
            [len(p) for p in data.pieces],
            self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            rank=rank,
            world=world,
        )
        # batch_size=None: the sampler yields whole batches of indices.
        return DataLoader(data, sampler=sampler, batch_size=None, num_workers=0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def random_transpose(roll: torch.Tensor, lengths: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Shift each piece by a random number of keys in ``-max_shift..max_shift``.

    The shift is clipped per piece so its lowest and highest notes stay on the
    keyboard (an empty piece is not moved). ``roll`` is ``(B, T, K)``; padding
    frames are zero and stay zero.

    Examples
    --------
    >>> roll = torch.zeros(1, 2, 88); roll[0, :, 40] = 1
    >>> int(random_transpose(roll, torch.tensor([2]), 3)[0, 0].argmax()) in range(37, 44)
    True
    """
    if max_shift <= 0:
        return roll
    k = roll.shape[-1]
    on = roll.amax(dim=1) > 0  # (B, K): keys used anywhere in the piece
    keys = torch.arange(k, device=roll.device)
    lowest = torch.where(on, keys, k).amin(dim=1)
    highest = torch.where(on, keys, -1).amax(dim=1)
    empty = highest < 0
    lo = torch.clamp(-lowest, min=-max_shift).masked_fill(empty, 0)
    hi = torch.clamp(k - 1 - highest, max=max_shift).masked_fill(empty, 0)
    shift = lo + (torch.rand(lo.shape, device=roll.device) * (hi - lo + 1)).long()
    # Gather along keys: key j of the result is key j - shift of the input.
    src = keys[None, :] - shift[:, None]  # (B, K)
    valid = (src >= 0) & (src < k)
    out = torch.gather(roll, 2, src.clamp(0, k - 1)[:, None, :].expand_as(roll))
    return out * valid[:, None, :].to(roll.dtype)


# -- the LightningModule ------------------------------------------------------------------
class PianoRollModule(pl.LightningModule):
    """Training/validation/test steps of a piano-roll model on the frame NLL.

    Logs ``train_nll`` and ``val_nll`` / ``test_nll`` in nats per frame (summed over
    keys, averaged over all frames of the split: the JSB protocol). Checkpoints
    hold tensors and plain values only (``weights_only=True`` loads them).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        lr: float,
        weight_decay: float = 0.0,
        scheduler: str = "plateau",
        lr_patience: int = 3,
        max_epochs: int = 100,
        transpose: int = 0,
        train_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.lr, self.weight_decay = lr, weight_decay
        self.scheduler, self.lr_patience, self.max_epochs = scheduler, lr_patience, max_epochs
        self.transpose = transpose
        self.train_config = train_config or {}
        # Sums over frames, synchronised across processes: exact split-level NLL.
        self.nll_sum, self.frames = SumMetric(), SumMetric()

    def _nll(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        roll, lengths = batch
        return -self.model.log_prob(roll, lengths=lengths).sum(), lengths.sum()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        roll, lengths = batch
        roll = random_transpose(roll, lengths, self.transpose)
        total, frames = self._nll((roll, lengths))
        loss = total / frames
        self.log("train_nll", loss, prog_bar=True, batch_size=int(frames))
        return loss

    def _eval_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        total, frames = self._nll(batch)
        self.nll_sum.update(total)
        self.frames.update(frames.to(total.dtype))

    def _eval_end(self, name: str) -> None:
        frames = self.frames.compute()
        if frames > 0:
            # Already summed over processes by the metrics: the same value everywhere.
            self.log(name, self.nll_sum.compute() / frames, prog_bar=True, sync_dist=True)
        self.nll_sum.reset()
        self.frames.reset()

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_end(self) -> None:
        self._eval_end("val_nll")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_test_epoch_end(self) -> None:
        self._eval_end("test_nll")

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.max_epochs)
            return {"optimizer": opt, "lr_scheduler": sched}
        if self.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="min", factor=0.5, patience=self.lr_patience
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_nll"}}
        return opt

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["torchmusic"] = {"train_config": self.train_config}


@dataclasses.dataclass
class PianoRollResult:
    """Outcome of :func:`train_pianoroll`.

    Attributes
    ----------
    model_file : pathlib.Path
        Exported generator file (best checkpoint; ``load_generator(kind="pianoroll")``).
    run_dir : pathlib.Path
        The run folder.
    metrics : dict
        ``val_nll``, ``test_nll`` (nats/frame, best checkpoint), ``train_minutes``,
        ``epochs_trained``, ``best_epoch``, ``global_step``, ``parameters``.
    """

    model_file: Path
    run_dir: Path
    metrics: dict[str, Any]


def load_pianoroll_data(path: str | os.PathLike[str]) -> dict[str, list[np.ndarray]]:
    """``split -> list of (T, 88) bool rolls`` of a JSB JSON file (DataError when unusable)."""
    from torchmusic.symbolic import load_jsb

    splits = load_jsb(path)
    for split in ("train", "valid"):
        if not splits[split]:
            raise DataError(f"JSB file {str(path)!r} has no {split} pieces")
    return splits


# -- the job ------------------------------------------------------------------------------
def train_pianoroll(cfg: PianoRollTrainConfig, *, progress: bool = True) -> PianoRollResult:
    """Train a piano-roll model and export the best checkpoint (by validation NLL).

    Parameters
    ----------
    cfg : PianoRollTrainConfig
        All settings.
    progress : bool
        Progress bars and the model summary.

    Returns
    -------
    PianoRollResult
        ``model_file`` (``run_dir/model.safetensors``), ``run_dir``, ``metrics``.

    Raises
    ------
    ParameterError
        Invalid settings, or ``resume`` with settings that differ from the run's.
    DataError
        Unreadable data, or a run folder that already holds a run while ``resume``
        is False.

    Notes
    -----
    The NLL is computed on whole pieces from their first frame (conditioned on
    an empty past), so ``val_nll`` / ``test_nll`` are exactly the protocol's
    nats per frame. ``max_minutes`` bounds training plus validation wall time;
    Lightning's timer is saved in checkpoints, so a resumed run only gets what
    is left of the budget. Checkpoints load with ``torch.load(weights_only=True)``.

    Examples
    --------
    >>> cfg = PianoRollTrainConfig(data="jsb-chorales-quarter.json", max_minutes=30)
    >>> train_pianoroll(cfg).metrics["test_nll"]  # doctest: +SKIP
    5.9
    """
    from torchmusic.models.symbolic.pianoroll import PianoRollConfig, PianoRollModel

    if not isinstance(cfg, PianoRollTrainConfig):
        raise ParameterError(f"cfg must be a PianoRollTrainConfig, got {type(cfg).__name__}")
    cfg = dataclasses.replace(cfg).validate()
    cfg.data = str(Path(cfg.data).expanduser().resolve())
    run_dir = Path(cfg.out_dir or Path("runs") / f"{Path(cfg.data).stem}-pianoroll").resolve()
    cfg.out_dir = str(run_dir)
    ckpt_path = check_run_dir(cfg, run_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    splits = load_pianoroll_data(cfg.data)
    model = PianoRollModel(PianoRollConfig(**cfg.model_config))
    if ckpt_path is None:  # a resumed run restores its own weights
        model.init_key_bias(splits["train"])
    module = PianoRollModule(
        model,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        scheduler=cfg.scheduler,
        lr_patience=cfg.lr_patience,
        max_epochs=cfg.max_epochs,
        transpose=cfg.transpose,
        train_config=cfg.to_dict(),
    )
    data = JSBData(splits, batch_size=cfg.batch_size, seed=cfg.seed)
    if is_global_zero():
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_yaml(cfg, run_dir / "config.yaml")

    best = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best-{epoch:03d}",
        monitor="val_nll",
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
    )
    timer = Timer(
        duration=datetime.timedelta(minutes=cfg.max_minutes) if cfg.max_minutes else None,
        interval="step",
    )
    callbacks: list[Callback] = [best, latest_checkpoint(run_dir), timer]
    if cfg.patience > 0:
        callbacks.append(EarlyStopping(monitor="val_nll", mode="min", patience=cfg.patience))
    accelerator = resolve_accelerator(cfg.accelerator)
    with quiet_lightning(verbose=progress):
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=cfg.devices,
            num_nodes=cfg.num_nodes,
            strategy=cfg.strategy,
            precision=resolve_precision(cfg.precision, accelerator),
            max_epochs=cfg.max_epochs,
            callbacks=callbacks,
            logger=CSVLogger(run_dir, name="csv"),
            default_root_dir=run_dir,
            enable_progress_bar=progress,
            enable_model_summary=progress,
            log_every_n_steps=cfg.log_every_n_steps,
            gradient_clip_val=cfg.grad_clip or None,
            use_distributed_sampler=False,  # LengthBatches shards batches itself
            num_sanity_val_steps=0,
        )
        try:
            trainer.fit(module, datamodule=data, ckpt_path=ckpt_path, weights_only=True)
        except MisconfigurationException as exc:
            raise ParameterError(f"cannot train in {str(run_dir)!r}: {exc}") from exc
        minutes = timer.time_elapsed("train") / 60.0
        return _finish(cfg, trainer, module, data, best, run_dir, minutes)


def _finish(
    cfg: PianoRollTrainConfig,
    trainer: pl.Trainer,
    module: PianoRollModule,
    data: JSBData,
    best: ModelCheckpoint,
    run_dir: Path,
    minutes: float,
) -> PianoRollResult:
    """Score the best checkpoint on valid (and test), export it, write metrics.json."""
    from torchmusic.models.symbolic.pianoroll import count_parameters

    best_path = best.best_model_path or str(run_dir / "checkpoints" / LAST_CKPT)
    metrics: dict[str, Any] = {}
    runs = [trainer.validate]
    if cfg.test_after_fit and data.splits["test"].pieces:
        runs.append(trainer.test)
    for run in runs:
        out = run(module, datamodule=data, ckpt_path=best_path, weights_only=True, verbose=False)
        metrics.update({k: float(v) for k, v in (out[0] if out else {}).items()})
    metrics.update(
        best_checkpoint=Path(best_path).name,
        best_epoch=_epoch_of(best_path),
        epochs_trained=int(trainer.current_epoch),
        global_step=int(trainer.global_step),
        train_minutes=round(minutes, 2),
        parameters=count_parameters(module.model),
        threads=torch.get_num_threads(),
        frames={k: int(sum(len(p) for p in v.pieces)) for k, v in data.splits.items()},
    )
    model_file = run_dir / MODEL_FILE
    if trainer.is_global_zero:
        _export(cfg, module, model_file, metrics)
        write_json(run_dir / "metrics.json", metrics)
    trainer.strategy.barrier("torchmusic-export")
    return PianoRollResult(model_file=model_file, run_dir=run_dir, metrics=metrics)


def _epoch_of(ckpt: str) -> int | None:
    stem = Path(ckpt).stem
    return int(stem.split("-")[-1]) if stem.startswith("best-") else None


def _export(
    cfg: PianoRollTrainConfig, module: PianoRollModule, path: Path, metrics: dict[str, Any]
) -> Path:
    from torchmusic.models.symbolic.genfile import GeneratorSpec, save_generator

    model = module.model.to("cpu").float().eval()
    spec = GeneratorSpec(
        architecture="pianoroll",
        model_config={},  # filled from model.config
        tokenizer=None,
        conditions=None,
        kind="pianoroll",
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float | str)},
        extra={
            "train_config": cfg.to_dict(),
            "data": Path(cfg.data).name,
            "nll_protocol": "nats per frame, summed over 88 keys (MIDI 21..108), averaged "
            "over all frames; first frame conditioned on an empty past",
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    return save_generator(path, model, spec)


def _write_yaml(cfg: PianoRollTrainConfig, path: Path) -> None:
    import yaml

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
