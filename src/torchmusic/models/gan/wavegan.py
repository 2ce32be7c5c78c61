"""WaveGAN (Donahue, McAuley & Puckette, 2019): a DCGAN on raw waveforms.

Generator: latent -> dense -> reshape to ``(16 * dim, 16)`` -> transposed 1-D convs
(kernel 25, stride 4; ReLU, then ``tanh``) -> ``(batch, length)`` audio in [-1, 1].
Discriminator: the mirror image with strided convs, LeakyReLU 0.2 and *phase shuffle*
between layers, so that it cannot tell real from fake by the periodic artefacts that
transposed convolutions leave at fixed phases. No batch norm in either (the paper
drops it; WGAN-GP's per-example gradient penalty is wrong with it in the critic).

Length and depth: each layer scales the length by ``stride``, so
``length = base * stride**n_layers`` where ``base`` is the length the dense layer
makes. The paper's 16384 samples are ``16 * 4**5`` (5 layers), 1.02 s at 16 kHz or
0.74 s at 22.05 kHz; ``22528 = 22 * 4**5`` is 1.02 s at 22.05 kHz; the paper's long
variant 65536 is ``16 * 4**6`` (``n_layers=6``). Channels double per layer from the
output: with 5 layers the generator starts at ``16 * dim`` channels, as in the paper.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.gan._common import (
    StackDiscriminator,
    StackGenerator,
    check_config,
    check_divisible,
    check_nonnegative_int,
)


@dataclasses.dataclass(kw_only=True)
class WaveGANConfig:
    """Sizes of a :class:`WaveGANGenerator` and its :class:`WaveGANDiscriminator`.

    Parameters
    ----------
    latent_dim : int
        Size of the latent vector (the paper: 100).
    dim : int
        Width knob: the last generator layer / first discriminator layer has ``dim``
        channels, each layer further in twice as many (the paper: 64).
    length : int
        Samples per generated clip; a multiple of ``stride**n_layers`` (see the module
        docstring; 16384 by default, as in the paper).
    n_layers : int
        Transposed convs in the generator, strided convs in the discriminator.
    kernel_size, stride : int
        Of every conv (the paper: 25 and 4).
    n_classes : int
        0: unconditional; else labels ``0 .. n_classes - 1`` condition both networks.
    phase_shuffle : int
        Maximum shift of the discriminator's phase shuffle (the paper: 2; 0 turns it off).
    leaky_relu_slope : float
        Of the discriminator (the paper: 0.2).
    generator_norm : {"none", "batch"}
        Batch norm after the dense layer and every hidden transposed conv ("batch",
        as DCGAN) or none (the paper).
    discriminator_norm : {"none", "spectral"}
        Spectral normalisation of every conv and the linear head ("spectral", for the
        hinge loss without a gradient penalty) or none (the paper, WGAN-GP).
    sample_rate : int
        Hz of the audio; the network does not use it, but a model file must record it.

    Examples
    --------
    >>> WaveGANConfig().length // 4**5
    16
    >>> WaveGANConfig(length=22050)
    Traceback (most recent call last):
    ...
    torchmusic.errors.ParameterError: length=22050 is not a multiple of stride**n_layers = 4**5 = 1024; the nearest sizes this stack makes are 21504 or 22528 (or change n_layers)
    """

    latent_dim: int = 100
    dim: int = 64
    length: int = 16384
    n_layers: int = 5
    kernel_size: int = 25
    stride: int = 4
    n_classes: int = 0
    phase_shuffle: int = 2
    generator_norm: str = "none"
    discriminator_norm: str = "none"
    leaky_relu_slope: float = 0.2
    sample_rate: int = 22050

    def __post_init__(self) -> None:
        check_config(self)
        base = check_divisible("length", self.length, self.stride, self.n_layers)
        check_nonnegative_int("phase_shuffle", self.phase_shuffle)
        # Reflect padding needs a shift shorter than the signal; the shortest shuffled
        # activation is the second-to-last discriminator layer's, base * stride long.
        if self.n_layers > 1 and self.phase_shuffle >= base * self.stride:
            raise ParameterError(
                f"phase_shuffle={self.phase_shuffle} must be < {base * self.stride}, the "
                f"length of the shortest shuffled discriminator activation"
            )

    @property
    def base_length(self) -> int:
        """Length of the dense layer's output, before the upsampling stack."""
        return self.length // self.stride**self.n_layers


class PhaseShuffle(nn.Module):
    """Shift each example by a random ``k`` in ``[-n, n]`` samples, reflect-padding the edges.

    Keeps the shape ``(batch, channels, time)``. Each example draws its own shift
    (the reference draws one per batch; per example regularises the same and mixes
    shifts within a batch). The identity when ``n == 0`` or in eval mode.

    Parameters
    ----------
    n : int
        Largest shift; must be shorter than the time axis.

    Examples
    --------
    >>> shuffle = PhaseShuffle(2)
    >>> shuffle(torch.randn(3, 8, 64)).shape
    torch.Size([3, 8, 64])
    >>> x = torch.randn(3, 8, 64)
    >>> torch.equal(shuffle.eval()(x), x)
    True
    """

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = check_nonnegative_int("phase shuffle n", n)

    def extra_repr(self) -> str:
        return f"n={self.n}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n == 0 or not self.training:
            return x
        batch, channels, time = x.shape
        if self.n >= time:
            raise ParameterError(f"phase shuffle n={self.n} needs > {self.n} samples, got {time}")
        shift = torch.randint(-self.n, self.n + 1, (batch, 1, 1), device=x.device)
        padded = nn.functional.pad(x, (self.n, self.n), mode="reflect")
        # out[t] = x[t - shift] = padded[t + n - shift]
        index = torch.arange(time, device=x.device) + (self.n - shift)
        return padded.gather(2, index.expand(batch, channels, time))


class WaveGANGenerator(StackGenerator):
    """Latent ``(batch, latent_dim)`` (+ labels) -> audio ``(batch, length)`` in [-1, 1].

    ``forward(z, labels=None)``; ``labels`` is a ``(batch,)`` integer tensor when
    ``n_classes > 0`` and must be ``None`` otherwise.

    Parameters
    ----------
    config : WaveGANConfig, optional
        Default ``WaveGANConfig()``.

    Examples
    --------
    >>> g = WaveGANGenerator(WaveGANConfig(dim=4, length=1024, n_layers=3, n_classes=8))
    >>> g(torch.randn(2, 100), torch.tensor([0, 7])).shape
    torch.Size([2, 1024])
    """

    def __init__(self, config: WaveGANConfig | None = None) -> None:
        cfg = WaveGANConfig() if config is None else config
        super().__init__(cfg, nn.ConvTranspose1d, (cfg.base_length,))


class WaveGANDiscriminator(StackDiscriminator):
    """Audio ``(batch, length)`` or ``(batch, 1, length)`` (+ labels) -> logits ``(batch,)``.

    ``forward(x, labels=None)`` as the generator's. Unbounded scores (a WGAN critic;
    hinge and LSGAN losses take them as they are). Phase shuffle is active in training
    mode only.

    Parameters
    ----------
    config : WaveGANConfig, optional
        The generator's config; default ``WaveGANConfig()``.

    Examples
    --------
    >>> d = WaveGANDiscriminator(WaveGANConfig(dim=4, length=1024, n_layers=3))
    >>> d(torch.randn(2, 1024)).shape
    torch.Size([2])
    """

    def __init__(self, config: WaveGANConfig | None = None) -> None:
        cfg = WaveGANConfig() if config is None else config
        super().__init__(
            cfg,
            nn.Conv1d,
            size=(cfg.length,),
            base_shape=(cfg.base_length,),
            what="audio",
            shuffle=lambda: PhaseShuffle(cfg.phase_shuffle),
        )
