"""Settings of classifier training: a :class:`~torchmusic.training.recipe.RunRecipe`.

Precedence (later wins): the dataclass defaults, the recipe (``--config X.yaml``),
explicit keyword arguments (the CLI's named flags), then ``--key value`` overrides
(dotted keys reach into dict settings: ``--augment.mixup 0.2``,
``--feature.n_mels 64``). This module imports neither torch nor Lightning.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from torchmusic.errors import ParameterError
from torchmusic.training.recipe import RunRecipe, coerce, resolve_paths

if TYPE_CHECKING:  # features import torch; a config must build without it
    from torchmusic.features.config import FeatureConfig

ARCHITECTURES = ("simple_cnn", "crnn", "shortchunk", "mfcc-svm", "backbone")
SCHEDULERS = ("cosine", "plateau", "none")
KEEP_WEIGHTS = ("auto", "best", "last")
#: Clip length when ``clip_seconds`` is not given and some track is at least this long.
DEFAULT_CLIP_SECONDS = 3.0
#: ``keep_weights: auto`` keeps the final weights below this many validation tracks.
MIN_VALID_TRACKS_FOR_BEST = 30
# What an augmentation left out of a given ``augment`` mapping is: off.
AUGMENT_DEFAULTS: dict[str, float] = {
    "gain_db": 0.0,  # random gain in +-gain_db decibels (0: off)
    "eq_db": 0.0,  # random smooth EQ curve of at most +-eq_db decibels (0: off)
    "freq_shift": 0.0,  # random shift of the bins, at most this fraction of them (0: off)
    "time_mask": 0.0,  # SpecAugment: widest time mask, as a fraction of the clip's frames
    "freq_mask": 0.0,  # SpecAugment: widest frequency mask, as a fraction of the bins
    "n_masks": 1,  # masks of each kind per example
    "mixup": 0.0,  # mixup Beta(alpha, alpha) parameter (0: off)
}
#: The default ``augment`` (no ``augment`` given at all): every augmentation on, at the
#: strengths measured in docs/benchmarks.md ("Default recipes"). An ``augment``
#: mapping from a recipe file replaces it (keys it leaves out are off); a dotted
#: override (``--augment.mixup 0``) changes one key of it.
DEFAULT_AUGMENT: dict[str, float] = {
    "gain_db": 6.0,
    "eq_db": 6.0,
    "freq_shift": 0.03,
    "time_mask": 0.1,
    "freq_mask": 0.1,
    "n_masks": 1,
    "mixup": 0.2,
}
#: The default ``model_config`` of each architecture (no ``model_config`` given at
#: all): small enough for a CPU, with each clip normalised to its own peak
#: (``example_norm: max``, level-invariant). ``model_config: {}`` gives the
#: architecture's own class defaults instead (e.g. ShortChunk width 128).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "simple_cnn": {"dense_units": 256, "example_norm": "max"},
    "crnn": {"rnn": "gru", "rnn_hidden": 64, "rnn_layers": 1, "example_norm": "max"},
    "shortchunk": {"width": 32, "example_norm": "max"},
    "mfcc-svm": {},
    "backbone": {},  # a linear probe: linear head, frozen encoder
}
#: Settings of ``model_config`` that the backbone file gives, never the recipe.
BACKBONE_OWNED = ("encoder", "encoder_config", "n_mels", "n_frames", "n_classes")
#: What the recipe sets of model 'backbone' (its head, and whether the encoder trains).
BACKBONE_HEAD = ("dropout", "freeze", "hidden")
#: ``backbone_lr_scale``'s default: a fine-tuned encoder learns at a tenth of ``lr``.
DEFAULT_BACKBONE_LR_SCALE = 0.1
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
    "backbone",
)


@dataclasses.dataclass
class TrainConfig(RunRecipe):
    """Everything a classifier training run needs.

    Parameters
    ----------
    data : str
        Class-per-folder root (``root/<label>/*.wav``) or manifest (CSV/TSV/JSONL);
        a folder holding a ``manifest.csv`` (the demo corpus) is read through it.
    model : str
        Architecture: ``simple_cnn``, ``crnn``, ``shortchunk``, ``mfcc-svm``, or
        ``backbone`` (a pretrained embedding encoder + a head; needs ``backbone``).
    backbone : str or None
        With ``model: backbone``: an embedding model file (written by ``torchmusic
        train embed`` / :func:`~torchmusic.models.embed.save_embedding_model`) or a
        shipped embedding model's name (``music-embed``) whose encoder is the
        classifier's body (:class:`~torchmusic.models.classify.backbone.BackboneClassifier`).
        Its feature settings and clip length become ``feature`` and
        ``clip_seconds``: a recipe asking for other ones is refused, naming both.
        ``model_config``: ``hidden`` (0: a linear head), ``dropout``, ``freeze``
        (default true: a linear probe, the encoder and its BatchNorm statistics
        fixed; false: fine-tune the encoder too).
    backbone_lr_scale : float
        Fine-tuning (``model_config.freeze: false``): the encoder learns at
        ``lr * backbone_lr_scale`` (default 0.1), the head at ``lr``.
    model_config : dict or None
        Overrides of the architecture's config (e.g. ``{"dropout": 0.3}``). None
        (the default): :data:`MODEL_DEFAULTS` of ``model``, resolved by
        :meth:`validate`; a dotted override (``--model_config.dropout 0.3``)
        starts from those.
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
        Manifest column naming each track's split (``train`` / ``valid`` / ``test``).
        None (default): the manifest's ``split`` column when it has one, else a
        random split; ``"none"`` (``--split_column none``): ignore any split column
        and split at random. A source with ``train`` and ``test`` but no ``valid``
        tracks gets a validation split carved out of ``train`` (see
        :func:`torchmusic.training.classify.data.plan_splits`).
    split_fractions : dict
        Random split used when neither of the above is given: seeded by ``seed``,
        stratified by label, and group-aware with ``group_column``. Its valid share
        relative to train + valid is the fraction of a carved validation split.
    group_column : str or None
        Manifest column whose groups (kit, artist) never straddle two splits.
    feature : dict
        :class:`~torchmusic.features.FeatureConfig` settings (default: log-mel).
    clip_seconds : float or None
        Clip length the model sees: random crops in training, sliding windows in
        validation. Shorter tracks are zero-padded (log-mel: padded with the
        track's own minimum, its silence level). None (the default):
        :data:`DEFAULT_CLIP_SECONDS`, or the longest track's length when every
        track is shorter (one-shot samples are not padded to three times their
        length); resolved when training starts and saved in ``config.yaml``.
    clips_per_track : int
        Random crops drawn per track per epoch (long tracks, short clips; default 4).
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
    keep_weights : {"auto", "best", "last"}
        Which weights the model file gets: the epoch with the best validation
        metric (``best``, with early stopping by ``patience``) or the final epoch
        (``last``: no early stopping, the full schedule). ``auto`` (default):
        ``best`` unless the validation split has fewer than
        :data:`MIN_VALID_TRACKS_FOR_BEST` tracks, whose metric is too noisy to
        pick an epoch by (measured: a one-kit drum validation split picked the
        first epoch; docs/benchmarks.md, "Default recipes").
    monitor : str or None
        Validation metric that picks the best checkpoint and drives early stopping
        (default: ``val_macro_f1``; ``val_map`` for multi-label).
    augment : dict
        ``gain_db``, ``eq_db``, ``freq_shift``, ``time_mask``, ``freq_mask``,
        ``n_masks``, ``mixup`` (see :func:`torchmusic.training.augment.augment_batch`).
        Default :data:`DEFAULT_AUGMENT` (all on); keys left out of a given mapping
        are off (:data:`AUGMENT_DEFAULTS`).
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
    backbone: str | None = None
    backbone_lr_scale: float = DEFAULT_BACKBONE_LR_SCALE
    model_config: dict[str, Any] | None = None
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
    clip_seconds: float | None = None
    clips_per_track: int = 4
    val_hop_seconds: float | None = None
    cache_dir: str | None = None
    weight_decay: float = 1e-2
    patience: int = 10
    monitor: str | None = None
    keep_weights: str = "auto"
    augment: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_AUGMENT))
    extract_workers: int | None = None

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("data", "cache_dir", "out_dir", "split_lists")
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = IDENTITY_KEYS
    SUBKEYS: ClassVar[dict[str, Any]] = {"augment": AUGMENT_DEFAULTS}
    SUBKEY_NOUNS: ClassVar[dict[str, str]] = {"augment": "augmentation"}
    SCHEDULERS: ClassVar[tuple[str, ...]] = SCHEDULERS

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        """As :meth:`Recipe.set`; a dotted ``model_config.*`` key starts from the
        architecture's :data:`MODEL_DEFAULTS` when no ``model_config`` is set yet;
        a ``backbone`` path in a recipe file is relative to the recipe's folder
        (a shipped model's name stays a name)."""
        if key.replace("-", "_").startswith("model_config.") and self.model_config is None:
            self.model_config = dict(MODEL_DEFAULTS.get(self.model, {}))
        super().set(key, value, **kwargs)
        base_dir = kwargs.get("base_dir")
        if key == "backbone" and base_dir is not None:
            self.backbone = backbone_path(self.backbone, Path(base_dir))

    def with_absolute_paths(self) -> TrainConfig:
        """As :meth:`Recipe.with_absolute_paths`, ``backbone`` included (unless it is
        a shipped model's name)."""
        cfg = super().with_absolute_paths()
        cfg.backbone = backbone_path(cfg.backbone, Path.cwd())
        return cfg

    def resolved_model_config(self) -> dict[str, Any]:
        """``model_config``, or the architecture's :data:`MODEL_DEFAULTS` when None."""
        if self.model_config is None:
            return dict(MODEL_DEFAULTS.get(self.model, {}))
        return self.model_config

    def normalise(self, name: str, value: Any) -> Any:
        """Fill augmentation defaults and type-check the dict settings' values."""
        value = super().normalise(name, value)
        if name == "augment":
            value = {**AUGMENT_DEFAULTS, **value}
            for key, sub in value.items():
                value[key] = coerce(f"augment.{key}", sub, int if key == "n_masks" else float)
        elif name == "split_fractions":
            value = {k: coerce(f"split_fractions.{k}", v, float) for k, v in value.items()}
        elif name == "split_lists" and value is not None:
            value = {k: coerce(f"split_lists.{k}", v, str) for k, v in value.items()}
        return value

    # -- checking ----------------------------------------------------------------
    def validate(self) -> TrainConfig:
        """Check every value's range; returns self. Raises :class:`ParameterError`."""
        if not self.data:
            raise ParameterError("data is not set: give --data DIR_OR_MANIFEST")
        if self.model not in ARCHITECTURES:
            raise ParameterError(
                f"model={self.model!r} is not an architecture; expected one of {ARCHITECTURES}"
            )
        super().validate()
        self.model_config = self.resolved_model_config()
        self._validate_backbone()
        if self.patience is None:
            raise ParameterError("patience must be an int >= 0 (0: no early stop)")
        for name in ("clips_per_track",):
            if isinstance(getattr(self, name), bool) or getattr(self, name) < 1:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be a positive integer")
        if self.extract_workers is not None and self.extract_workers < 0:
            raise ParameterError(
                f"extract_workers={self.extract_workers!r} must be an int >= 0 or null"
            )
        if self.clip_seconds is not None and not self.clip_seconds > 0:
            raise ParameterError(f"clip_seconds={self.clip_seconds!r} must be > 0 or null")
        if self.keep_weights not in KEEP_WEIGHTS:
            raise ParameterError(
                f"keep_weights={self.keep_weights!r} is not one of {KEEP_WEIGHTS}"
            )
        if self.val_hop_seconds is not None and not self.val_hop_seconds > 0:
            raise ParameterError(f"val_hop_seconds={self.val_hop_seconds!r} must be > 0 or null")
        self._validate_augment()
        total = sum(self.split_fractions.values())
        if abs(total - 1.0) > 1e-6 or any(not v > 0 for v in self.split_fractions.values()):
            raise ParameterError(
                f"split_fractions={self.split_fractions!r} must be positive and sum to 1"
            )
        self.feature_config()  # raises ParameterError on bad feature settings
        return self

    def _validate_backbone(self) -> None:
        if self.model == "backbone" and not self.backbone:
            raise ParameterError(
                "model='backbone' needs a backbone: give --backbone NAME|FILE (an embedding "
                "model file or a shipped embedding model's name)"
            )
        if self.backbone and self.model != "backbone":
            raise ParameterError(
                f"backbone={self.backbone!r} is for model 'backbone', but model={self.model!r}: "
                "drop --arch (or set model: backbone) to train a head on the backbone, or drop "
                "--backbone"
            )
        scale = self.backbone_lr_scale
        if not scale > 0:
            raise ParameterError(
                f"backbone_lr_scale={scale!r} must be > 0 (to keep the encoder fixed, use "
                "--freeze, i.e. model_config.freeze: true)"
            )
        if self.model == "backbone":
            given = set(self.model_config or {})
            owned = sorted(given & set(BACKBONE_OWNED))
            if owned:
                raise ParameterError(
                    f"model_config {owned} of model 'backbone' come from the backbone file "
                    f"{self.backbone!r}; set only {list(BACKBONE_HEAD)}"
                )
            unknown = sorted(given - set(BACKBONE_HEAD))
            if unknown:
                raise ParameterError(
                    f"unknown model_config setting(s) {unknown} for model 'backbone'; expected "
                    f"a subset of {list(BACKBONE_HEAD)}"
                )

    def _validate_augment(self) -> None:
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

    def feature_config(self) -> FeatureConfig:
        """The :class:`~torchmusic.features.FeatureConfig` of ``feature``."""
        from torchmusic.features.config import FeatureConfig

        return FeatureConfig.from_dict(dict(self.feature))


def backbone_path(value: str | None, base: Path) -> str | None:
    """``backbone`` made absolute against ``base``, unless it names a shipped model
    (and no file of that name exists there): ``music-embed`` stays ``music-embed``."""
    if not value:
        return value
    from torchmusic.pretrained import PRETRAINED

    if value in PRETRAINED and not (base / value).is_file():
        return value
    return resolve_paths(value, base)


#: The recipe's name in the new vocabulary (``TrainConfig`` stays: users import it).
ClassifyRecipe = TrainConfig
