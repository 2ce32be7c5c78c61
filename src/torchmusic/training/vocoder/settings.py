"""Settings of vocoder training: a torch-free :class:`~torchmusic.training.recipe.RunRecipe`.

Two phases. The first ``adversarial_after`` steps train the generator alone on the
reconstruction losses (log-mel L1 and multi-resolution STFT): that is meaningful
on a CPU and gives the GAN phase a generator that already sounds like music. After
that the discriminators join (HiFi-GAN / Vocos recipe: adversarial + feature
matching + 45 x mel L1), which needs a GPU to get far.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from torchmusic.errors import ParameterError
from torchmusic.training.recipe import RunRecipe

ARCHITECTURES = ("vocos", "hifigan", "melgan")
DISCRIMINATORS = ("mpd", "msd", "mrd")
ADVERSARIAL_LOSSES = ("lsgan", "hinge")
#: The toolkit's default log-mel (FeatureConfig defaults: 22,050 Hz, n_fft 2048,
#: hop 512, 128 Slaney mel bands, top_db 80): what every classifier sees too.
DEFAULT_FEATURE: dict[str, Any] = {"kind": "logmel"}


@dataclasses.dataclass
class VocoderTrainConfig(RunRecipe):
    """Settings of a vocoder training run (YAML recipe + ``--key value`` overrides).

    Parameters
    ----------
    data : str or list of str
        Audio folders / files, or a manifest (CSV/TSV/JSONL) with a ``path`` column
        and optionally a ``split`` column (``train`` / ``valid`` / ``test``; ``test``
        tracks are never used in training).
    model : {"vocos", "hifigan", "melgan"}
        Generator architecture (``--arch``).
    model_config : dict
        Overrides of the generator config (``dim``, ``num_layers``, ``upsample_rates``,
        or ``preset: v1|v2|v3`` for HiFi-GAN).
    feature : dict
        :class:`~torchmusic.features.FeatureConfig` of the log-mel the vocoder
        inverts (default: the toolkit's default log-mel).
    segment_frames : int
        Training segment length in mel frames (segment = frames x hop samples).
    segments_per_track : int
        Random segments drawn per training track per epoch.
    val_fraction : float
        Share of tracks held out for validation when the data has no split column.
    val_segment_seconds, val_segments_per_track : number
        Validation segments: evenly spaced, the same every epoch.
    adversarial_after : int or None
        Optimiser steps of the reconstruction-only warm-up; None: never adversarial.
    discriminators : list of str
        Which of ``mpd``, ``msd``, ``mrd`` (multi-period, multi-scale,
        multi-resolution STFT) judge the audio in the adversarial phase.
    adversarial_loss : {"lsgan", "hinge"}
    lambda_mel, lambda_mrstft, lambda_fm, lambda_adv : float
        Loss weights (HiFi-GAN: mel 45, feature matching 2).
    lr, d_lr, betas, gamma : number
        AdamW for generator and discriminators; ``scheduler: exponential`` decays both
        by ``gamma`` per epoch (HiFi-GAN 0.999), ``cosine`` to 0 over the run.
    audio_every_n_epochs : int
        Write validation audio and spectrogram PNGs every N epochs (0: never).
    audio_examples : int
        How many validation segments get audio / PNGs.
    cache_dir : str or None
        Where decoded tracks are kept (``.npy``; default: ``decoded-audio`` in the
        feature cache, ``~/.cache/torchmusic/features/decoded-audio``).
    init_from : str or None
        A vocoder model file (or shipped name, e.g. ``music-vocoder``) whose generator
        weights start the run: fine-tuning on your own music, or continuing the shipped
        model with more steps. Its architecture, network settings and log-mel must be
        this run's. Discriminators and optimiser states start fresh.
    """

    data: str | list[str] | None = None
    model: str = "vocos"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    feature: dict[str, Any] = dataclasses.field(default_factory=lambda: dict(DEFAULT_FEATURE))
    segment_frames: int = 32
    segments_per_track: int = 16
    val_fraction: float = 0.1
    val_segment_seconds: float = 2.0
    val_segments_per_track: int = 4
    adversarial_after: int | None = None
    discriminators: list[str] = dataclasses.field(default_factory=lambda: ["mpd", "mrd"])
    adversarial_loss: str = "lsgan"
    lambda_mel: float = 45.0
    lambda_mrstft: float = 1.0
    lambda_fm: float = 2.0
    lambda_adv: float = 1.0
    batch_size: int = 16
    max_epochs: int = 100
    lr: float = 2e-4
    d_lr: float = 2e-4
    betas: list[float] = dataclasses.field(default_factory=lambda: [0.8, 0.99])
    gamma: float = 0.999
    scheduler: str = "cosine"
    audio_every_n_epochs: int = 5
    audio_examples: int = 3
    num_workers: int | None = None
    cache_dir: str | None = None
    init_from: str | None = None

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("data", "out_dir", "cache_dir")
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = (
        "data",
        "model",
        "model_config",
        "feature",
        "segment_frames",
        "val_fraction",
        "discriminators",
        "seed",
    )
    SCHEDULERS: ClassVar[tuple[str, ...]] = ("cosine", "exponential", "none")

    def validate(self) -> VocoderTrainConfig:
        """Check values; returns self (:class:`ParameterError` naming the first problem)."""
        if not self.data:
            raise ParameterError("data is not set: give --data AUDIO_FOLDER_OR_MANIFEST")
        if self.model not in ARCHITECTURES:
            raise ParameterError(f"model={self.model!r}; expected one of {ARCHITECTURES}")
        super().validate()
        for name in ("segment_frames", "segments_per_track", "val_segments_per_track"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if not 0 <= self.val_fraction < 1:
            raise ParameterError(f"val_fraction={self.val_fraction!r} must be in [0, 1)")
        if not self.val_segment_seconds > 0:
            raise ParameterError(f"val_segment_seconds={self.val_segment_seconds!r} must be > 0")
        if self.adversarial_after is not None and self.adversarial_after < 0:
            raise ParameterError(
                f"adversarial_after={self.adversarial_after!r} must be >= 0 or null (never)"
            )
        unknown = [d for d in self.discriminators if d not in DISCRIMINATORS]
        if unknown or (self.adversarial_after is not None and not self.discriminators):
            raise ParameterError(
                f"discriminators={self.discriminators!r}: expected a non-empty list of "
                f"{DISCRIMINATORS}"
            )
        if self.adversarial_loss not in ADVERSARIAL_LOSSES:
            raise ParameterError(
                f"adversarial_loss={self.adversarial_loss!r}; expected one of {ADVERSARIAL_LOSSES}"
            )
        for name in ("lambda_mel", "lambda_mrstft", "lambda_fm", "lambda_adv", "d_lr"):
            if not getattr(self, name) >= 0:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.lambda_mel == 0 and self.lambda_mrstft == 0:
            raise ParameterError("lambda_mel and lambda_mrstft are both 0: nothing to learn from")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ParameterError(f"betas={self.betas!r} must be two numbers in [0, 1)")
        if self.audio_every_n_epochs < 0 or self.audio_examples < 0:
            raise ParameterError("audio_every_n_epochs and audio_examples must be >= 0")
        feature = self.feature_config()
        if feature.kind != "logmel":
            raise ParameterError(
                f"feature kind={feature.kind!r}: a vocoder inverts a log-mel (kind: logmel)"
            )
        return self

    @property
    def adversarial(self) -> bool:
        """Whether the run has an adversarial phase at all."""
        return self.adversarial_after is not None

    def feature_config(self):
        """The :class:`~torchmusic.features.FeatureConfig` of ``feature``."""
        from torchmusic.features.config import FeatureConfig

        return FeatureConfig.from_dict(dict(self.feature))

    def audio_cache_dir(self) -> Path:
        """The folder of decoded tracks (``cache_dir`` or the default)."""
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        from torchmusic.data import default_cache_dir

        return Path(default_cache_dir()) / "decoded-audio"

    def segment_samples(self) -> int:
        """Training segment length in samples."""
        return self.segment_frames * self.feature_config().hop_length

    def data_items(self) -> list[tuple[str, str | None]]:
        """``[(absolute path, split or None), ...]`` of ``data`` (folders, files or a
        manifest with ``path`` and optional ``split`` columns)."""
        from torchmusic.data.audio_splits import audio_items

        return audio_items(self.data, name="data")


#: The recipe's name in the vocabulary of the other trainers.
VocoderRecipe = VocoderTrainConfig
