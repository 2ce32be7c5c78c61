"""Settings of GAN training (WaveGAN / SpecGAN): a torch-free :class:`RunRecipe`.

The defaults are the WaveGAN paper's WGAN-GP recipe (Donahue et al., 2019):
gradient penalty 10, five critic steps per generator step, Adam at 1e-4 with
betas (0.5, 0.9), batch 64; plus an EMA of the generator, which is what the model
file ships.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from torchmusic.errors import ParameterError
from torchmusic.training.recipe import RunRecipe

ARCHITECTURES = ("wavegan", "specgan")
LOSSES = ("wgan-gp", "hinge", "lsgan")


@dataclasses.dataclass
class GanTrainConfig(RunRecipe):
    """Settings of a GAN training run (YAML recipe + ``--key value`` overrides).

    Parameters
    ----------
    data : str
        A class-per-folder root (``kick/``, ``snare/``, ...) or a manifest
        (CSV/TSV/JSONL) with a ``path`` column and a label column; a manifest's
        ``split`` column, when present, keeps only its ``train`` rows (held-out
        kits stay unseen).
    model : {"wavegan", "specgan"}
        Architecture (``--arch``).
    model_config : dict
        Overrides of the network config (``dim``, ``length``, ``n_layers``,
        ``n_frames``, ...); ``n_classes`` and ``sample_rate`` are set by the run.
    conditional : bool
        Class-conditional (labels from the folders / label column; needs two
        classes or more) or unconditional.
    sample_rate : int
        Hz the clips are loaded at (resampled when needed).
    label_column : str
        The manifest's label column.
    normalize : bool
        Scale every clip to a peak of ``peak`` (drum libraries mix velocity layers;
        the model then learns timbre, not loudness).
    onset_db : float
        A clip starts at its first sample within ``onset_db`` dB of its peak
        (minus ``pre_onset_ms``); clips longer than the model are cropped from
        there, shorter ones zero-padded at the end.
    loss : {"wgan-gp", "hinge", "lsgan"}
    gp_weight : float
        WGAN-GP's lambda (used with ``loss: wgan-gp``).
    n_critic : int
        Discriminator steps per generator step.
    mode_seeking : float
        Weight of the mode-seeking term of MSGAN (Mao et al., 2019): the generator
        is penalised by ``1 / (mean|G(z1, y) - G(z2, y)| / mean|z1 - z2|)``, so two
        latents of one class must give different sounds. A conditional generator
        otherwise tends to ignore its latent (one sound per class); 0: off.
    lr, d_lr : float
        Adam learning rates of the generator and the discriminator (``d_lr`` null:
        ``lr``).
    betas : list of float
        Adam betas of both.
    ema_decay : float
        EMA of the generator's weights (0: none; the file then holds the raw weights).
    examples_every_n_steps : int
        Write a fixed-latent sample grid (WAV per sound + one spectrogram PNG) every N
        steps, and at the end (0: never).
    examples_per_class : int
        Sounds per class in a grid (unconditional: this many x 4).
    vocoder : str or None
        SpecGAN only: the vocoder (a shipped name such as ``music-vocoder`` or a model
        file) the model file names for turning its log-mels into audio; null:
        Griffin-Lim. Training does not use it.
    """

    data: str | None = None
    model: str = "wavegan"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    conditional: bool = False
    sample_rate: int = 22050
    label_column: str = "label"
    normalize: bool = True
    peak: float = 0.95
    onset_db: float = -30.0
    pre_onset_ms: float = 2.0
    loss: str = "wgan-gp"
    gp_weight: float = 10.0
    n_critic: int = 5
    mode_seeking: float = 0.0
    batch_size: int = 64
    max_epochs: int = 100_000
    lr: float = 1e-4
    d_lr: float | None = None
    betas: list[float] = dataclasses.field(default_factory=lambda: [0.5, 0.9])
    scheduler: str = "none"
    ema_decay: float = 0.999
    examples_every_n_steps: int = 500
    examples_per_class: int = 2
    vocoder: str | None = None
    num_workers: int | None = None
    test_after_fit: bool = False
    log_every_n_steps: int = 10

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("data", "out_dir")
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = (
        "data",
        "model",
        "model_config",
        "conditional",
        "sample_rate",
        "label_column",
        "normalize",
        "loss",
        "seed",
    )
    SCHEDULERS: ClassVar[tuple[str, ...]] = ("none", "cosine")

    def validate(self) -> GanTrainConfig:
        """Check values; returns self (:class:`ParameterError` naming the first problem)."""
        if not self.data:
            raise ParameterError("data is not set: give --data DRUM_FOLDER_OR_MANIFEST")
        if self.model not in ARCHITECTURES:
            raise ParameterError(f"model={self.model!r}; expected one of {ARCHITECTURES}")
        super().validate()
        if self.loss not in LOSSES:
            raise ParameterError(f"loss={self.loss!r}; expected one of {LOSSES}")
        for name in ("n_critic", "examples_per_class", "sample_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if self.examples_every_n_steps < 0:
            raise ParameterError(
                f"examples_every_n_steps={self.examples_every_n_steps!r} must be >= 0"
            )
        if not self.mode_seeking >= 0:
            raise ParameterError(f"mode_seeking={self.mode_seeking!r} must be >= 0")
        if not self.gp_weight >= 0:
            raise ParameterError(f"gp_weight={self.gp_weight!r} must be >= 0")
        if self.d_lr is not None and not self.d_lr > 0:
            raise ParameterError(f"d_lr={self.d_lr!r} must be > 0 or null (lr)")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ParameterError(f"betas={self.betas!r} must be two numbers in [0, 1)")
        if not 0 <= self.ema_decay < 1:
            raise ParameterError(f"ema_decay={self.ema_decay!r} must be in [0, 1)")
        if not 0 < self.peak <= 1:
            raise ParameterError(f"peak={self.peak!r} must be in (0, 1]")
        if not self.onset_db < 0 or self.pre_onset_ms < 0:
            raise ParameterError(
                f"onset_db={self.onset_db!r} must be < 0 and pre_onset_ms="
                f"{self.pre_onset_ms!r} >= 0"
            )
        if self.vocoder is not None and self.model != "specgan":
            raise ParameterError(
                f"vocoder={self.vocoder!r}: only a specgan model needs a vocoder; a "
                f"{self.model} makes audio itself"
            )
        for key in ("n_classes", "sample_rate"):
            if key in self.model_config:
                raise ParameterError(
                    f"model_config.{key} is set by the run (from the data's classes and "
                    f"'sample_rate'); remove it"
                )
        return self


#: The recipe's name in the vocabulary of the other trainers.
GanRecipe = GanTrainConfig
