"""Settings of denoiser training: a torch-free :class:`~torchmusic.training.recipe.RunRecipe`.

Pairs are made on the fly (:class:`~torchmusic.data.mixtures.MixtureDataset`): clean
music split **by track**, noise recordings split **by file**
(:func:`~torchmusic.data.noise.split_noise_files`: the ``unseen_noise`` kinds are held
out of training and validation alike, for the benchmark's unseen column), plus the
seeded generators (hum, hiss, clicks, crackle) on both sides.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from torchmusic.errors import ParameterError
from torchmusic.training.recipe import RunRecipe

ARCHITECTURES = ("unet",)
#: The recipe's default generators (``"ambient"``, :func:`~torchmusic.data.noise.textured_noise`,
#: is opt-in); any key of :data:`~torchmusic.data.noise.SYNTHETIC_KINDS` is accepted.
SYNTHETIC = ("hum", "hiss", "clicks", "crackle")


@dataclasses.dataclass
class DenoiseTrainConfig(RunRecipe):
    """Settings of a denoiser training run (YAML recipe + ``--key value`` overrides).

    Parameters
    ----------
    clean : str or list of str
        Clean music: audio folders / files, or a manifest (CSV/TSV/JSONL) with a
        ``path`` column and optionally a ``split`` column (``train`` / ``valid`` /
        ``test``; ``test`` tracks are never used), e.g. the one of ``torchmusic
        datasets build soundtracks``.
    noise : str or None
        Folder of noise recordings (e.g. ``../shared/data/noise``); None: generated
        noise only.
    synthetic_noise : list of str
        Generated kinds mixed in on both sides (``hum``, ``hiss``, ``clicks``, ``crackle``).
    synthetic_weight : float
        Chance of each generated kind relative to one recording (0: recordings only).
    unseen_noise : list of str
        Noise kinds never used here (held out for the benchmark).
    noise_valid_fraction : float
        Share of the other recordings used for validation only (by file).
    model : {"unet"}
        Network architecture (``--arch``).
    model_config : dict
        ``preset: cpu|gpu`` and/or any :class:`~torchmusic.models.denoise.DenoiserConfig`
        field (``channels``, ``df_order``, ...); the data are made at its ``sr``.
    snr_range, gain_db_range : [low, high]
        SNR (dB) and gain of each pair (dB, before the anti-clipping limit), uniform.
    segment_seconds : float
        Length of a training item.
    items_per_track : int
        Training items drawn per clean track per epoch.
    val_fraction : float
        Share of tracks held out for validation when the data has no split column.
    val_items_per_track : int
        Validation items per held-out track (the same every epoch).
    lambda_sisdr, lambda_stft : float
        Loss weights: ``lambda_sisdr * -SI-SDR (dB) + lambda_stft * compressed STFT MSE``.
    audio_every_n_epochs, audio_examples : int
        Write noisy / clean / denoised WAVs of a few validation items every N epochs.
    cache_dir : str or None
        Where decoded music is kept (``.npy``; default: ``decoded-audio`` in the
        feature cache).
    init_from : str or None
        A denoiser model file (or shipped name, e.g. ``music-denoiser``) whose weights
        start the run: fine-tuning on your own music or noise, or a second phase with a
        lower learning rate. Its network settings must equal ``model_config``'s.
    """

    clean: str | list[str] | None = None
    noise: str | None = None
    synthetic_noise: list[str] = dataclasses.field(default_factory=lambda: list(SYNTHETIC))
    synthetic_weight: float = 1.0
    unseen_noise: list[str] = dataclasses.field(default_factory=lambda: ["running_tap"])
    noise_valid_fraction: float = 0.2
    model: str = "unet"
    model_config: dict[str, Any] = dataclasses.field(default_factory=lambda: {"preset": "cpu"})
    snr_range: list[float] = dataclasses.field(default_factory=lambda: [-5.0, 20.0])
    gain_db_range: list[float] = dataclasses.field(default_factory=lambda: [-18.0, 0.0])
    segment_seconds: float = 2.0
    items_per_track: int = 16
    val_fraction: float = 0.1
    val_items_per_track: int = 4
    lambda_sisdr: float = 0.05
    lambda_stft: float = 1.0
    batch_size: int = 16
    max_epochs: int = 100
    lr: float = 1e-3
    grad_clip: float = 5.0
    audio_every_n_epochs: int = 5
    audio_examples: int = 3
    cache_dir: str | None = None
    init_from: str | None = None

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("clean", "noise", "out_dir", "cache_dir")
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = (
        "clean",
        "noise",
        "synthetic_noise",
        "unseen_noise",
        "model",
        "model_config",
        "segment_seconds",
        "val_fraction",
        "seed",
    )
    SCHEDULERS: ClassVar[tuple[str, ...]] = ("cosine", "none")

    def validate(self) -> DenoiseTrainConfig:
        """Check values; returns self (:class:`ParameterError` naming the first problem)."""
        if not self.clean:
            raise ParameterError("clean is not set: give --clean MUSIC_FOLDER_OR_MANIFEST")
        if self.model not in ARCHITECTURES:
            raise ParameterError(f"model={self.model!r}; expected one of {ARCHITECTURES}")
        super().validate()
        from torchmusic.data.noise import SYNTHETIC_KINDS

        unknown = [k for k in self.synthetic_noise if k not in SYNTHETIC_KINDS]
        if unknown:
            raise ParameterError(
                f"synthetic_noise={self.synthetic_noise!r}: unknown kind(s) {unknown}; "
                f"expected some of {list(SYNTHETIC_KINDS)}"
            )
        if not self.noise and not self.synthetic_noise:
            raise ParameterError(
                "no noise: give --noise NOISE_FOLDER, or keep synthetic_noise non-empty"
            )
        if not self.synthetic_weight >= 0:
            raise ParameterError(f"synthetic_weight={self.synthetic_weight!r} must be >= 0")
        if not self.noise and self.synthetic_weight == 0:
            raise ParameterError("synthetic_weight=0 needs noise recordings (--noise)")
        for name in ("snr_range", "gain_db_range"):
            pair = getattr(self, name)
            if len(pair) != 2 or not pair[0] <= pair[1]:
                raise ParameterError(f"{name}={pair!r} must be [low, high] with low <= high")
        if self.gain_db_range[1] > 0:
            raise ParameterError(f"gain_db_range={self.gain_db_range!r}: gains above 0 dB clip")
        for name in ("items_per_track", "val_items_per_track"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if not self.segment_seconds > 0:
            raise ParameterError(f"segment_seconds={self.segment_seconds!r} must be > 0")
        for name in ("val_fraction", "noise_valid_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be in [0, 1)")
        if not (self.lambda_sisdr >= 0 and self.lambda_stft >= 0) or (
            self.lambda_sisdr == 0 and self.lambda_stft == 0
        ):
            raise ParameterError(
                f"lambda_sisdr={self.lambda_sisdr!r} and lambda_stft={self.lambda_stft!r} must "
                "be >= 0 and not both 0"
            )
        if self.audio_every_n_epochs < 0 or self.audio_examples < 0:
            raise ParameterError("audio_every_n_epochs and audio_examples must be >= 0")
        config = self.network_config()  # raises on unknown fields or bad values
        if self.segment_samples() < 2 * config.n_fft:
            raise ParameterError(
                f"segment_seconds={self.segment_seconds!r} is under two FFT frames "
                f"({2 * config.n_fft} samples at {config.sr} Hz)"
            )
        return self

    def network_config(self) -> Any:
        """The :class:`~torchmusic.models.denoise.DenoiserConfig` of ``model_config``."""
        from torchmusic.models.denoise.registry import DENOISER_REGISTRY

        settings = dict(self.model_config)
        preset = settings.pop("preset", None)
        config_cls, _ = DENOISER_REGISTRY.get(self.model)
        if preset is not None:
            return config_cls.preset(preset, **settings)
        return DENOISER_REGISTRY.make_config(self.model, settings)

    @property
    def sr(self) -> int:
        """Sample rate of the data (the network's)."""
        return int(self.network_config().sr)

    def segment_samples(self) -> int:
        """Training item length in samples."""
        return max(1, round(self.segment_seconds * self.sr))

    def audio_cache_dir(self) -> Path:
        """The folder of decoded tracks (``cache_dir`` or the default)."""
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        from torchmusic.data import default_cache_dir

        return Path(default_cache_dir()) / "decoded-audio"

    def clean_items(self) -> list[tuple[str, str | None]]:
        """``[(absolute path, split or None), ...]`` of ``clean`` (folders, files or a
        manifest with ``path`` and optional ``split`` columns)."""
        from torchmusic.data.audio_splits import audio_items

        return audio_items(self.clean, name="clean")


#: The recipe's name in the vocabulary of the other trainers.
DenoiseRecipe = DenoiseTrainConfig
