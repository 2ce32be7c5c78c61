"""SpecGAN (Donahue et al., 2019): a DCGAN on log-mel images, vocoded to audio afterwards.

Generator: latent -> dense -> reshape to ``(16 * dim, n_mels / 32, n_frames / 32)`` ->
transposed 2-D convs (5x5, stride 2; ReLU, then ``tanh``) -> ``(batch, n_mels,
n_frames)``. Discriminator: strided 5x5 convs with LeakyReLU 0.2 and the same
projection head as WaveGAN's. No batch norm (as in the paper), no phase shuffle
(the paper uses it for WaveGAN only).

The images are torchmusic's default log-mel (:class:`~torchmusic.features.FeatureConfig`:
``power_to_db`` with ``ref=1.0``, so absolute dB, 128 mel bands, hop 512 at 22.05 kHz),
which the vocoders take as input, mapped linearly to [-1, 1] by :func:`from_db`:
``db_range=(-60, 40)`` sends -60 dB to -1 and +40 dB to +1, i.e. ``x = (db + 10) / 50``.
Why that window: a full-scale sine peaks near +41 dB in that log-mel and white noise
of RMS 0.3 near +15 dB, and ``top_db=80`` puts the floor of a full-scale clip near
-40 dB, so a peak-normalised drum hit fits with 20 dB to spare below. :func:`to_db`
is the inverse (on [-1, 1]).

Sizes: each layer scales both axes by ``stride``, so ``n_mels`` and ``n_frames`` must be
multiples of ``stride**n_layers`` (32 for 5 layers). The default 128 x 32 image is
0.74 s at hop 512 and 22.05 kHz, as long as WaveGAN's 16384 samples; the paper's
128 x 128 is ``n_frames=128``.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.gan._common import (
    StackDiscriminator,
    StackGenerator,
    check_config,
    check_divisible,
)
from torchmusic.models.vocoder.generators import check_positive_int

#: ``(dB at -1, dB at +1)`` of :func:`to_db` / :func:`from_db` by default.
DB_RANGE: tuple[float, float] = (-60.0, 40.0)


def _check_db_range(db_range: object) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in db_range)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ParameterError(f"db_range={db_range!r} must be two numbers (low, high)") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ParameterError(f"db_range={db_range!r} must be finite with low < high")
    return low, high


def to_db(x: torch.Tensor, *, db_range: tuple[float, float] = DB_RANGE) -> torch.Tensor:
    """Generator output in [-1, 1] -> log-mel dB: -1 -> ``db_range[0]``, +1 -> ``db_range[1]``.

    Examples
    --------
    >>> to_db(torch.tensor([-1.0, 0.0, 1.0]))
    tensor([-60., -10.,  40.])
    """
    low, high = _check_db_range(db_range)
    return low + (x + 1) * ((high - low) / 2)


def from_db(db: torch.Tensor, *, db_range: tuple[float, float] = DB_RANGE) -> torch.Tensor:
    """Log-mel dB -> [-1, 1], clipped: the inverse of :func:`to_db` inside ``db_range``.

    Examples
    --------
    >>> from_db(torch.tensor([-80.0, -10.0, 15.0, 50.0]))
    tensor([-1.0000,  0.0000,  0.5000,  1.0000])
    """
    low, high = _check_db_range(db_range)
    return ((db - low) * (2 / (high - low)) - 1).clamp(-1.0, 1.0)


@dataclasses.dataclass(kw_only=True)
class SpecGANConfig:
    """Sizes of a :class:`SpecGANGenerator` and its :class:`SpecGANDiscriminator`.

    Parameters
    ----------
    latent_dim : int
        Size of the latent vector (the paper: 100).
    dim : int
        Width knob: the last generator layer / first discriminator layer has ``dim``
        channels, each layer further in twice as many (the paper: 64).
    n_mels, n_frames : int
        Image size; multiples of ``stride**n_layers``.
    n_layers : int
        Transposed convs in the generator, strided convs in the discriminator.
    kernel_size, stride : int
        Of every conv, on both axes (the paper: 5 and 2).
    n_classes : int
        0: unconditional; else labels ``0 .. n_classes - 1`` condition both networks.
    leaky_relu_slope : float
        Of the discriminator (the paper: 0.2).
    generator_norm : {"none", "batch"}
        Batch norm after the dense layer and every hidden transposed conv ("batch",
        as DCGAN) or none (the paper).
    discriminator_norm : {"none", "spectral"}
        Spectral normalisation of every conv and the linear head ("spectral", for the
        hinge loss without a gradient penalty) or none (the paper, WGAN-GP).
    sample_rate, hop_length : int
        Of the log-mel the images are (the network does not use them; a model file must
        record them to vocode its output); the other feature settings are
        :class:`~torchmusic.features.FeatureConfig`'s defaults.
    db_range : (float, float)
        dB that -1 and +1 stand for (:func:`to_db`).

    Examples
    --------
    >>> cfg = SpecGANConfig()
    >>> cfg.base_size, cfg.n_frames * cfg.hop_length / cfg.sample_rate
    ((4, 1), 0.7430385487528345)
    """

    latent_dim: int = 100
    dim: int = 64
    n_mels: int = 128
    n_frames: int = 32
    n_layers: int = 5
    kernel_size: int = 5
    stride: int = 2
    n_classes: int = 0
    leaky_relu_slope: float = 0.2
    generator_norm: str = "none"
    discriminator_norm: str = "none"
    sample_rate: int = 22050
    hop_length: int = 512
    db_range: tuple[float, float] = DB_RANGE

    def __post_init__(self) -> None:
        check_config(self)
        check_divisible("n_mels", self.n_mels, self.stride, self.n_layers)
        check_divisible("n_frames", self.n_frames, self.stride, self.n_layers)
        check_positive_int("hop_length", self.hop_length)
        self.db_range = _check_db_range(self.db_range)  # a JSON list back to a tuple

    @property
    def base_size(self) -> tuple[int, int]:
        """``(mels, frames)`` of the dense layer's output, before the upsampling stack."""
        scale = self.stride**self.n_layers
        return self.n_mels // scale, self.n_frames // scale


class SpecGANGenerator(StackGenerator):
    """Latent ``(batch, latent_dim)`` (+ labels) -> log-mel ``(batch, n_mels, n_frames)`` in [-1, 1].

    ``forward(z, labels=None)``; ``labels`` is a ``(batch,)`` integer tensor when
    ``n_classes > 0`` and must be ``None`` otherwise. Map the output to dB with
    ``to_db(x, db_range=generator.config.db_range)``.

    Parameters
    ----------
    config : SpecGANConfig, optional
        Default ``SpecGANConfig()``.

    Examples
    --------
    >>> g = SpecGANGenerator(SpecGANConfig(dim=4, n_mels=32, n_frames=16, n_layers=3))
    >>> g(torch.randn(2, 100)).shape
    torch.Size([2, 32, 16])
    """

    def __init__(self, config: SpecGANConfig | None = None) -> None:
        cfg = SpecGANConfig() if config is None else config
        super().__init__(cfg, nn.ConvTranspose2d, cfg.base_size)


class SpecGANDiscriminator(StackDiscriminator):
    """Log-mel ``(batch, n_mels, n_frames)`` in [-1, 1] (+ labels) -> logits ``(batch,)``.

    ``forward(x, labels=None)`` as the generator's; ``(batch, 1, n_mels, n_frames)``
    is accepted too.

    Parameters
    ----------
    config : SpecGANConfig, optional
        The generator's config; default ``SpecGANConfig()``.

    Examples
    --------
    >>> d = SpecGANDiscriminator(SpecGANConfig(dim=4, n_mels=32, n_frames=16, n_layers=3))
    >>> d(torch.zeros(2, 32, 16)).shape
    torch.Size([2])
    """

    def __init__(self, config: SpecGANConfig | None = None) -> None:
        cfg = SpecGANConfig() if config is None else config
        super().__init__(
            cfg,
            nn.Conv2d,
            size=(cfg.n_mels, cfg.n_frames),
            base_shape=cfg.base_size,
            what="log-mels",
        )
