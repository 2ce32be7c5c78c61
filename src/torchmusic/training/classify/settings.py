"""Training settings: one dataclass, filled from a YAML recipe and ``--key value`` overrides.

Precedence (later wins): the dataclass defaults, the recipe (``--config X.yaml``),
explicit keyword arguments (the CLI's named flags), then ``--key value`` overrides.
Dotted keys reach into the dict-valued settings (``--augment.mixup 0.2``,
``--feature.n_mels 64``, ``--model_config.dropout 0.3``). Values are parsed as YAML
scalars (``0.2``, ``true``, ``null``, ``[0, 1]``) and checked against the field's
type; unknown keys are an error that suggests the closest known key.

This module imports neither torch nor Lightning, so building and checking a
configuration is instant.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchmusic.errors import DataError, ParameterError

if TYPE_CHECKING:  # features import torch; a config must build without it
    from torchmusic.features.config import FeatureConfig

ARCHITECTURES = ("simple_cnn", "crnn", "shortchunk", "mfcc-svm")
SCHEDULERS = ("cosine", "plateau", "none")
AUGMENT_DEFAULTS: dict[str, float] = {
    "gain_db": 0.0,  # random gain in +-gain_db decibels (0: off)
    "eq_db": 0.0,  # random smooth EQ curve of at most +-eq_db decibels (0: off)
    "freq_shift": 0.0,  # random shift of the bins, at most this fraction of them (0: off)
    "time_mask": 0.0,  # SpecAugment: widest time mask, as a fraction of the clip's frames
    "freq_mask": 0.0,  # SpecAugment: widest frequency mask, as a fraction of the bins
    "n_masks": 1,  # masks of each kind per example
    "mixup": 0.0,  # mixup Beta(alpha, alpha) parameter (0: off)
}
# Settings that define what a run learns: resuming with other values would mix two
# different experiments in one run folder, so they must match the saved run.
IDENTITY_KEYS = (
    "data",
    "model",
    "model_config",
    "label_column",
    "multi_label",
    "split_lists",
    "split_lists_allow_missing",
    "split_column",
    "split_fractions",
    "group_column",
    "feature",
    "clip_seconds",
    "seed",
)
# Fields holding file paths: relative paths in a recipe are resolved against the
# recipe's folder, so a recipe works from any working directory.
_PATH_FIELDS = ("data", "cache_dir", "out_dir")


@dataclasses.dataclass
class TrainConfig:
    """Everything a classifier training run needs.

    Parameters
    ----------
    data : str
        Class-per-folder root (``root/<label>/*.wav``) or manifest (CSV/TSV/JSONL);
        a folder holding a ``manifest.csv`` (the demo corpus) is read through it.
    model : str
        Architecture: ``simple_cnn``, ``crnn``, ``shortchunk`` or ``mfcc-svm``.
    model_config : dict
        Overrides of the architecture's config (e.g. ``{"dropout": 0.3}``).
    label_column : str or None
        Manifest column holding the labels (default ``"label"``); ignored for folders.
    multi_label : bool or None
        Multi-label (sigmoid + BCE) instead of single-label (softmax + CE);
        None: detected from the manifest.
    split_lists : dict or None
        ``{split: split-list file}`` (e.g. GTZAN's filtered lists). Highest priority.
    split_lists_allow_missing : bool
        Accept list entries that match no file (e.g. a partial copy of a corpus);
        by default they are an error that lists them.
    split_column : str or None
        Manifest column naming each track's split (e.g. ``"split"``).
    split_fractions : dict
        Random split used when neither of the above is given: seeded by ``seed``,
        stratified by label, and group-aware with ``group_column``.
    group_column : str or None
        Manifest column whose groups (kit, artist) never straddle two splits.
    feature : dict
        :class:`~torchmusic.features.FeatureConfig` settings (default: log-mel).
    clip_seconds : float
        Clip length the model sees: random crops in training, sliding windows in
        validation. Shorter tracks are zero-padded (log-mel: padded with the
        track's own minimum, its silence level).
    clips_per_track : int
        Random crops drawn per track per epoch (long tracks, short clips).
    val_hop_seconds : float or None
        Hop of the validation windows (default: ``clip_seconds``).
    cache_dir : str or None
        Feature cache folder (default: ``$TORCHMUSIC_CACHE_DIR`` or
        ``~/.cache/torchmusic/features``).
    batch_size, max_epochs, lr, weight_decay : number
        Optimisation: AdamW with decoupled weight decay.
    scheduler : {"cosine", "plateau", "none"}
        Learning-rate schedule: cosine decay over ``max_epochs``, or halving when
        the validation metric stalls.
    patience : int
        Early stopping after this many epochs without improvement (0: off).
    monitor : str or None
        Validation metric that picks the best checkpoint and drives early stopping
        (default: ``val_macro_f1``; ``val_map`` for multi-label).
    augment : dict
        ``gain_db``, ``eq_db``, ``freq_shift``, ``time_mask``, ``freq_mask``,
        ``n_masks``, ``mixup`` (see :func:`torchmusic.training.augment.augment_batch`).
    seed : int
        Seeds splits, initialisation, crops and augmentation.
    out_dir : str or None
        Run folder (default ``runs/<data name>-<model>``).
    accelerator, devices, num_nodes, strategy, precision
        Passed to :class:`lightning.pytorch.Trainer`. ``precision=None`` picks
        mixed precision (bf16 where supported, else fp16) on GPU and fp32 on CPU.
    num_workers : int or None
        DataLoader workers (default: 0 on CPU, up to 8 on GPU).
    extract_workers : int or None
        Processes computing features into the cache before training.
    resume : bool
        Continue the run in ``out_dir`` from its ``last.ckpt``.
    checkpoint_every_n_steps : int or None
        Also refresh ``last.ckpt`` every N optimizer steps (resume after a kill
        mid-epoch loses at most N steps).
    test_after_fit : bool
        Evaluate the best checkpoint on the ``test`` split when there is one.
    log_every_n_steps : int
        Logging interval of the training loss.
    deterministic : bool
        Ask torch for deterministic kernels (slower on GPU).
    """

    data: str | None = None
    model: str = "shortchunk"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    label_column: str | None = None
    multi_label: bool | None = None
    split_lists: dict[str, str] | None = None
    split_lists_allow_missing: bool = False
    split_column: str | None = None
    split_fractions: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"train": 0.8, "valid": 0.1, "test": 0.1}
    )
    group_column: str | None = None
    feature: dict[str, Any] = dataclasses.field(default_factory=lambda: {"kind": "logmel"})
    clip_seconds: float = 3.0
    clips_per_track: int = 1
    val_hop_seconds: float | None = None
    cache_dir: str | None = None
    batch_size: int = 32
    max_epochs: int = 30
    lr: float = 1e-3
    weight_decay: float = 1e-2
    scheduler: str = "cosine"
    patience: int = 10
    monitor: str | None = None
    augment: dict[str, float] = dataclasses.field(default_factory=lambda: dict(AUGMENT_DEFAULTS))
    seed: int = 0
    out_dir: str | None = None
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | int | None = None
    num_workers: int | None = None
    extract_workers: int | None = None
    resume: bool = False
    checkpoint_every_n_steps: int | None = None
    test_after_fit: bool = True
    log_every_n_steps: int = 10
    deterministic: bool = False

    def __post_init__(self) -> None:
        # Direct construction gets the same type checks and augment defaults as YAML.
        for field in dataclasses.fields(self):
            self.set(field.name, getattr(self, field.name))

    # -- building ----------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None):
        """A config from a plain dict (e.g. parsed YAML); unknown keys are an error.

        Relative paths (``data``, ``cache_dir``, ``out_dir``, ``split_lists``
        values) are resolved against ``base_dir`` when given.

        Examples
        --------
        >>> TrainConfig.from_dict({"model": "crnn", "max_epochs": 5}).max_epochs
        5
        """
        if not isinstance(data, Mapping):
            raise ParameterError(f"a training config must be a mapping of settings, got {data!r}")
        cfg = cls()
        for key, value in data.items():
            cfg.set(str(key), value, base_dir=base_dir)
        return cfg

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """Read a YAML recipe (relative paths in it are relative to the recipe's folder).

        Examples
        --------
        >>> cfg = TrainConfig.from_yaml("configs/demo.yaml")  # doctest: +SKIP
        """
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"training config {str(path)!r} does not exist") from None
        except IsADirectoryError:
            raise DataError(
                f"training config {str(path)!r} is a folder, expected a YAML file"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataError(f"training config {str(path)!r} is not valid YAML: {exc}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise DataError(f"training config {str(path)!r} must hold a mapping of settings")
        try:
            return cls.from_dict(data, base_dir=path.resolve().parent)
        except ParameterError as exc:
            raise ParameterError(f"{path}: {exc}") from None

    @classmethod
    def from_sources(
        cls,
        *,
        config: str | os.PathLike[str] | None = None,
        overrides: Sequence[str] = (),
        **settings: Any,
    ) -> TrainConfig:
        """Recipe, then explicit ``settings`` (None values are skipped), then overrides.

        Examples
        --------
        >>> cfg = TrainConfig.from_sources(model="crnn", overrides=["--augment.mixup", "0.2"])
        >>> cfg.model, cfg.augment["mixup"]
        ('crnn', 0.2)
        """
        cfg = cls.from_yaml(config) if config is not None else cls()
        for key, value in settings.items():
            if value is not None:
                cfg.set(key, value)
        cfg.apply_overrides(overrides)
        return cfg

    # -- changing ----------------------------------------------------------------
    def set(self, key: str, value: Any, *, base_dir: str | os.PathLike[str] | None = None) -> None:
        """Set ``key`` (dotted for nested dicts: ``"augment.mixup"``), checking its type."""
        key = key.replace("-", "_")
        name, _, sub = key.partition(".")
        hints = _field_types()
        if name not in hints:
            raise ParameterError(f"unknown setting {key!r}{_suggest(name, hints)}")
        if sub:
            current = getattr(self, name)
            if not _accepts_dict(hints[name]):
                raise ParameterError(
                    f"setting {name!r} is not a mapping, so {key!r} does not exist; use --{name}"
                )
            current = dict(current or {})
            if name == "augment" and sub not in AUGMENT_DEFAULTS:
                raise ParameterError(
                    f"unknown augmentation {sub!r}{_suggest(sub, AUGMENT_DEFAULTS)}"
                )
            current[sub] = value
            value = current
        value = _coerce(name, value, hints[name])
        if name == "augment":
            unknown = sorted(set(value) - set(AUGMENT_DEFAULTS))
            if unknown:
                raise ParameterError(
                    f"unknown augmentation(s) {unknown}; expected keys of {sorted(AUGMENT_DEFAULTS)}"
                )
            value = {**AUGMENT_DEFAULTS, **value}
            for sub_key, sub_value in value.items():
                expected = int if sub_key == "n_masks" else float
                value[sub_key] = _coerce(f"augment.{sub_key}", sub_value, expected)
        elif name == "split_fractions":
            value = {k: _coerce(f"split_fractions.{k}", v, float) for k, v in value.items()}
        elif name == "split_lists" and value is not None:
            value = {k: _coerce(f"split_lists.{k}", v, str) for k, v in value.items()}
        if base_dir is not None:
            value = _resolve_paths(name, value, Path(base_dir))
        setattr(self, name, value)

    def apply_overrides(self, tokens: Sequence[str]) -> None:
        """Apply ``["--key", "value", "--key2=value2", "--flag", ...]`` in order.

        A key followed by another ``--key`` (or by nothing) is set to ``true``.
        """
        tokens = list(tokens)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if not token.startswith("--") or len(token) <= 2:
                raise ParameterError(
                    f"unexpected argument {token!r}; overrides look like '--key value' "
                    "or '--key=value'"
                )
            key, eq, raw = token[2:].partition("=")
            if not eq:
                if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                    raw = tokens[i + 1]
                    i += 1
                else:
                    raw = "true"
            self.set(key, _parse_scalar(raw))
            i += 1

    # -- checking ----------------------------------------------------------------
    def validate(self) -> TrainConfig:
        """Check every value's range; returns self. Raises :class:`ParameterError`."""
        if not self.data:
            raise ParameterError("data is not set: give --data DIR_OR_MANIFEST")
        if self.model not in ARCHITECTURES:
            raise ParameterError(
                f"model={self.model!r} is not an architecture; expected one of {ARCHITECTURES}"
            )
        for name in ("batch_size", "max_epochs", "clips_per_track", "num_nodes"):
            _check_positive_int(name, getattr(self, name))
        _check_positive_int("log_every_n_steps", self.log_every_n_steps)
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ParameterError(
                f"patience={self.patience!r} must be an int >= 0 (0: no early stop)"
            )
        for name in ("num_workers", "extract_workers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ParameterError(f"{name}={value!r} must be an int >= 0 or null")
        if self.checkpoint_every_n_steps is not None:
            _check_positive_int("checkpoint_every_n_steps", self.checkpoint_every_n_steps)
        for name in ("clip_seconds", "lr"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be > 0")
        if self.val_hop_seconds is not None and not self.val_hop_seconds > 0:
            raise ParameterError(f"val_hop_seconds={self.val_hop_seconds!r} must be > 0 or null")
        if self.weight_decay < 0:
            raise ParameterError(f"weight_decay={self.weight_decay!r} must be >= 0")
        if self.scheduler not in SCHEDULERS:
            raise ParameterError(f"scheduler={self.scheduler!r}; expected one of {SCHEDULERS}")
        aug = self.augment
        for name in ("gain_db", "eq_db", "freq_shift", "time_mask", "freq_mask", "mixup"):
            if not aug[name] >= 0:
                raise ParameterError(f"augment.{name}={aug[name]!r} must be >= 0")
        for name in ("freq_shift", "time_mask", "freq_mask"):
            if aug[name] >= 1:
                raise ParameterError(
                    f"augment.{name}={aug[name]!r} is a fraction of the clip (or bins) and must be < 1"
                )
        if not isinstance(aug["n_masks"], int) or aug["n_masks"] < 1:
            raise ParameterError(f"augment.n_masks={aug['n_masks']!r} must be an int >= 1")
        total = sum(self.split_fractions.values())
        if abs(total - 1.0) > 1e-6 or any(not v > 0 for v in self.split_fractions.values()):
            raise ParameterError(
                f"split_fractions={self.split_fractions!r} must be positive and sum to 1"
            )
        self.feature_config()  # raises ParameterError on bad feature settings
        return self

    def feature_config(self) -> FeatureConfig:
        """The :class:`~torchmusic.features.FeatureConfig` of ``feature``."""
        from torchmusic.features.config import FeatureConfig

        return FeatureConfig.from_dict(dict(self.feature))

    # -- saving ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-able dict (lists, dicts, numbers, strings, None only).

        Checkpoints store this dict, never the object, so they load with
        ``torch.load(weights_only=True)``.
        """
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write the full configuration as YAML (written atomically); returns the path."""
        import yaml

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def with_absolute_paths(self) -> TrainConfig:
        """A copy whose file paths are absolute (relative ones: against the working folder).

        A run folder's ``config.yaml`` must not depend on where it is read from.
        """
        cfg = dataclasses.replace(self)
        for name in (*_PATH_FIELDS, "split_lists"):
            setattr(cfg, name, _resolve_paths(name, getattr(cfg, name), Path.cwd()))
        return cfg

    def identity(self) -> dict[str, Any]:
        """The settings that must not change when a run is resumed."""
        d = self.to_dict()
        return {k: d[k] for k in IDENTITY_KEYS}


# -- helpers -------------------------------------------------------------------------
def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _suggest(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(sorted(known))})"


def _parse_scalar(raw: str) -> Any:
    """A command-line value as YAML (``0.2``, ``true``, ``null``, ``[0, 1]``), else the text."""
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _accepts_dict(tp: Any) -> bool:
    return any(typing.get_origin(t) is dict or t is dict for t in _members(tp))


def _members(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """``value`` checked against annotation ``tp`` (ints widen to float, YAML text to str)."""
    members = _members(tp)
    if value is None:
        if type(None) in members:
            return None
        raise ParameterError(f"{name} must not be null")
    for member in members:
        base = typing.get_origin(member) or member
        if base is bool:
            if isinstance(value, bool):
                return value
        elif base is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif base is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        elif base is dict:
            if isinstance(value, Mapping):
                return {str(k): v for k, v in value.items()}
        elif base is list:
            if isinstance(value, list | tuple):
                return list(value)
    if str in members and isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    expected = " or ".join(_type_name(m) for m in members)
    raise ParameterError(f"{name}={value!r} has the wrong type; expected {expected}")


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(typing.get_origin(tp) or tp, "__name__", str(tp))


def _resolve_paths(name: str, value: Any, base: Path) -> Any:
    def resolve(p: Any) -> Any:
        if not isinstance(p, str) or not p:
            return p
        expanded = Path(os.path.expandvars(p)).expanduser()
        return str(expanded if expanded.is_absolute() else (base / expanded).resolve())

    if name in _PATH_FIELDS:
        return resolve(value)
    if name == "split_lists" and isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    return value


def _check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
