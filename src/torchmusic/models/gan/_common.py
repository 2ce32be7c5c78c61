"""What WaveGAN and SpecGAN share: config checks, the conv stacks, class conditioning.

The two are one DCGAN-like design in 1-D and 2-D: :class:`StackGenerator` (latent ->
dense -> transposed convs, each multiplying the size by ``stride``) and
:class:`StackDiscriminator` (its mirror image with a linear head). The architectures'
modules only pick the conv dimension, the sizes and (WaveGAN) phase shuffle.

Conditioning is one scheme for both architectures, so that a conditional model of
either kind behaves the same way:

- generator: a learned label embedding, as wide as the latent, is *concatenated* to
  the latent before the dense layer (Mirza & Osindero, 2014);
- discriminator: a *projection* head (Miyato & Koyama, 2018),
  ``D(x, y) = w . phi(x) + b + e_y . phi(x)``, with ``phi(x)`` the flattened features
  the linear head reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.vocoder.generators import check_positive_int

#: ``generator_norm`` values: the paper's none, or batch norm after every hidden layer
#: (DCGAN's choice; it makes a small generator learn much faster on a CPU budget).
GENERATOR_NORMS = ("none", "batch")
#: ``discriminator_norm`` values: none (the paper, WGAN-GP) or spectral normalisation of
#: every conv and the linear head (Miyato et al., 2018: what keeps a hinge-loss critic
#: with a projection head stable without a gradient penalty).
DISCRIMINATOR_NORMS = ("none", "spectral")


def check_nonnegative_int(name: str, value: object) -> int:
    """``value`` if it is an ``int >= 0`` (not a bool), else :class:`ParameterError`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ParameterError(f"{name}={value!r} must be a non-negative integer")
    return value


def check_config(cfg: Any) -> None:
    """Validate the fields WaveGAN's and SpecGAN's configs share."""
    check_positive_int("latent_dim", cfg.latent_dim)
    check_positive_int("dim", cfg.dim)
    check_positive_int("n_layers", cfg.n_layers)
    check_positive_int("kernel_size", cfg.kernel_size)
    stride = cfg.stride
    if not isinstance(stride, int) or isinstance(stride, bool) or stride < 2:
        raise ParameterError(f"stride={stride!r} must be an integer >= 2")
    if cfg.kernel_size < stride:
        # A transposed conv with a kernel shorter than its stride leaves gaps.
        raise ParameterError(f"kernel_size={cfg.kernel_size} must be >= stride={stride}")
    if check_nonnegative_int("n_classes", cfg.n_classes) == 1:
        raise ParameterError("n_classes=1 conditions on nothing; use 0 (unconditional)")
    slope = cfg.leaky_relu_slope
    if not isinstance(slope, (int, float)) or isinstance(slope, bool) or not 0 <= slope < 1:
        raise ParameterError(f"leaky_relu_slope={slope!r} must be in [0, 1)")
    check_positive_int("sample_rate", cfg.sample_rate)
    if cfg.generator_norm not in GENERATOR_NORMS:
        raise ParameterError(
            f"generator_norm={cfg.generator_norm!r}; expected one of {GENERATOR_NORMS}"
        )
    if cfg.discriminator_norm not in DISCRIMINATOR_NORMS:
        raise ParameterError(
            f"discriminator_norm={cfg.discriminator_norm!r}; expected one of {DISCRIMINATOR_NORMS}"
        )


def check_divisible(name: str, value: object, stride: int, n_layers: int) -> int:
    """``value // stride**n_layers``: the size before the upsampling stack (must be whole)."""
    check_positive_int(name, value)
    scale = stride**n_layers
    if value % scale:
        lower = value // scale * scale
        nearest = f"{lower} or {lower + scale}" if lower else f"{scale}"
        raise ParameterError(
            f"{name}={value} is not a multiple of stride**n_layers = {stride}**{n_layers} "
            f"= {scale}; the nearest sizes this stack makes are {nearest} "
            f"(or change n_layers)"
        )
    return value // scale


def same_padding(kernel_size: int, stride: int) -> tuple[int, int]:
    """``(padding, output_padding)`` that make a conv divide, and its transpose multiply,
    a length that is a multiple of ``stride`` by exactly ``stride``.

    A transposed conv gives ``(n - 1) * s - 2p + k + op``; setting that to ``n * s``
    gives ``op = s + 2p - k``, which is 0 or 1 with ``p = (k - s + 1) // 2``
    (kernel 25, stride 4: padding 11, output padding 1, TensorFlow's ``"same"``).

    Examples
    --------
    >>> same_padding(25, 4), same_padding(5, 2)
    ((11, 1), (2, 1))
    """
    padding = (kernel_size - stride + 1) // 2
    return padding, stride + 2 * padding - kernel_size


def channels(cfg: Any, layer: int) -> int:
    """Channels of generator activation ``layer`` (0: after the dense layer).

    ``dim`` at the last hidden layer, doubling towards the latent: ``16 * dim`` after
    the dense layer with 5 layers, as in the paper.
    """
    return cfg.dim * 2 ** (cfg.n_layers - 1 - layer)


def batch_norm(conv: type[nn.Module], width: int) -> nn.Module:
    """The batch norm matching a conv's dimension (1-D for WaveGAN, 2-D for SpecGAN)."""
    two_d = conv in (nn.Conv2d, nn.ConvTranspose2d)
    return nn.BatchNorm2d(width) if two_d else nn.BatchNorm1d(width)


def upsampling(cfg: Any, conv_transpose: type[nn.Module]) -> nn.Sequential:
    """The generator's stack: ``n_layers`` transposed convs, ReLU between, ``tanh`` last.

    ``conv_transpose`` is ``nn.ConvTranspose1d`` (WaveGAN) or ``nn.ConvTranspose2d``
    (SpecGAN); each layer multiplies every spatial size by ``stride``. With
    ``generator_norm="batch"`` a batch norm precedes every hidden ReLU.
    """
    padding, output_padding = same_padding(cfg.kernel_size, cfg.stride)
    layers: list[nn.Module] = []
    for i in range(cfg.n_layers):
        last = i == cfg.n_layers - 1
        out = 1 if last else channels(cfg, i + 1)
        conv = conv_transpose(
            channels(cfg, i), out, cfg.kernel_size, cfg.stride, padding, output_padding
        )
        if last:
            layers += [conv, nn.Tanh()]
        elif cfg.generator_norm == "batch":
            layers += [conv, batch_norm(conv_transpose, out), nn.ReLU()]
        else:
            layers += [conv, nn.ReLU()]
    return nn.Sequential(*layers)


def downsampling(
    cfg: Any, conv: type[nn.Module], shuffle: Callable[[], nn.Module] | None = None
) -> tuple[nn.Sequential, int]:
    """The discriminator's stack and its output channels: the generator's mirror image.

    Strided convs, each followed by LeakyReLU and, except the last, by ``shuffle()``
    when given (WaveGAN's phase shuffle); spectrally normalised with
    ``discriminator_norm="spectral"``.
    """
    padding, _ = same_padding(cfg.kernel_size, cfg.stride)
    layers: list[nn.Module] = []
    width = 1
    for i in range(cfg.n_layers):
        out = channels(cfg, cfg.n_layers - 1 - i)
        layers += [
            spectral(cfg, conv(width, out, cfg.kernel_size, cfg.stride, padding)),
            nn.LeakyReLU(cfg.leaky_relu_slope),
        ]
        if shuffle is not None and i < cfg.n_layers - 1:
            layers.append(shuffle())
        width = out
    return nn.Sequential(*layers), width


def spectral(cfg: Any, layer: nn.Module) -> nn.Module:
    """``layer`` spectrally normalised when ``cfg.discriminator_norm == "spectral"``."""
    if cfg.discriminator_norm == "spectral":
        return nn.utils.parametrizations.spectral_norm(layer)
    return layer


def check_latent(z: object, latent_dim: int) -> torch.Tensor:
    """``z`` if it is a floating ``(batch, latent_dim)`` tensor."""
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise ParameterError(f"the latent must be a floating-point tensor, got {type(z).__name__}")
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ParameterError(
            f"the latent must have shape (batch, {latent_dim}), got {tuple(z.shape)}"
        )
    return z


def check_labels(labels: object, n_classes: int, batch: int) -> torch.Tensor | None:
    """``labels`` as a ``(batch,)`` long tensor (``None`` for an unconditional model).

    Raises
    ------
    ParameterError
        Labels for an unconditional model, none for a conditional one, a wrong
        shape, or a label outside ``[0, n_classes)``.
    """
    if n_classes == 0:
        if labels is not None:
            raise ParameterError("labels given to an unconditional model (n_classes=0)")
        return None
    if labels is None:
        raise ParameterError(f"a conditional model (n_classes={n_classes}) needs labels")
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int32, torch.int64):
        raise ParameterError(f"labels must be an integer tensor, got {labels!r:.80}")
    if labels.shape != (batch,):
        raise ParameterError(f"labels must have shape ({batch},), got {tuple(labels.shape)}")
    bad = labels[(labels < 0) | (labels >= n_classes)]
    if bad.numel():
        raise ParameterError(
            f"label {int(bad[0])} is outside [0, {n_classes}) (n_classes={n_classes})"
        )
    return labels.long()


class LatentConditioning(nn.Module):
    """Latent ``(batch, latent_dim)`` -> generator input, with the label embedding appended.

    ``out_features`` is ``latent_dim`` unconditionally, ``2 * latent_dim`` with classes:
    an embedding as wide as the latent, so the label is not drowned out by the noise.
    """

    def __init__(self, latent_dim: int, n_classes: int) -> None:
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        # nn.Embedding's N(0, 1) init puts the label on the latent's scale.
        self.embed = nn.Embedding(n_classes, latent_dim) if n_classes else None
        self.out_features = latent_dim * (2 if n_classes else 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        z = check_latent(z, self.latent_dim)
        labels = check_labels(labels, self.n_classes, z.shape[0])
        if self.embed is None:
            return z
        return torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)


class ProjectionHead(nn.Module):
    """Features ``(batch, in_features)`` -> logits ``(batch,)``: linear, plus a class projection.

    Unconditional: ``w . phi + b``. Conditional (Miyato & Koyama, 2018): plus
    ``e_y . phi`` with a learned ``e_y`` per class, which makes the critic score how
    well ``x`` fits class ``y`` rather than classify it.
    """

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.linear = nn.Linear(in_features, 1)
        self.embed = nn.Embedding(n_classes, in_features) if n_classes else None
        if self.embed is not None:
            # The linear head's init scale, not N(0, 1): with thousands of features a unit
            # embedding would make the class term dwarf the rest at the start.
            bound = 1 / math.sqrt(in_features)
            nn.init.uniform_(self.embed.weight, -bound, bound)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        labels = check_labels(labels, self.n_classes, features.shape[0])
        out = self.linear(features).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(labels).to(features.dtype) * features).sum(dim=1)
        return out


def single_channel(x: object, size: tuple[int, ...], what: str) -> torch.Tensor:
    """``(batch, 1, *size)`` from that or ``(batch, *size)``, else :class:`ParameterError`."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ParameterError(f"{what} must be a floating-point tensor, got {type(x).__name__}")
    shape = tuple(x.shape)
    if x.ndim == len(size) + 1:
        x = x.unsqueeze(1)
    if x.shape[1:] != (1, *size):
        dims = ", ".join(map(str, size))
        raise ParameterError(f"{what} must be (batch, {dims}) or (batch, 1, {dims}), got {shape}")
    return x


class StackGenerator(nn.Module):
    """Latent (+ labels) -> dense -> ReLU -> :func:`upsampling` -> ``(batch, *size)``.

    The body of both generators; ``base_shape`` is the dense layer's spatial output.
    """

    def __init__(self, cfg: Any, conv_transpose: type[nn.Module], base_shape: tuple[int, ...]):
        super().__init__()
        self.config = cfg
        self.base_shape = tuple(base_shape)
        self.condition = LatentConditioning(cfg.latent_dim, cfg.n_classes)
        width = channels(cfg, 0) * math.prod(self.base_shape)
        self.dense = nn.Linear(self.condition.out_features, width)
        # Batch norm of the dense layer's output (generator_norm="batch"), as DCGAN does.
        self.dense_norm = (
            batch_norm(conv_transpose, channels(cfg, 0))
            if cfg.generator_norm == "batch"
            else nn.Identity()
        )
        self.upsample = upsampling(cfg, conv_transpose)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``labels``: ``(batch,)`` ints when ``n_classes > 0``, else ``None``."""
        return self.from_input(self.condition(z, labels))

    def label_embedding(self, labels: torch.Tensor) -> torch.Tensor:
        """``(batch, latent_dim)`` embeddings of ``labels`` (a conditional model only)."""
        if self.condition.embed is None:
            raise ParameterError("an unconditional model (n_classes=0) has no label embedding")
        labels = check_labels(labels, self.config.n_classes, labels.shape[0])
        return self.condition.embed(labels)

    def from_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """The network after the conditioning: ``(batch, condition.out_features)`` ->
        output. ``forward(z, y)`` is ``from_input(cat([z, label_embedding(y)]))``; other
        inputs (e.g. a mix of two classes' embeddings) interpolate between classes."""
        want = self.condition.out_features
        if inputs.ndim != 2 or inputs.shape[1] != want:
            raise ParameterError(
                f"the generator input must have shape (batch, {want}), got {tuple(inputs.shape)}"
            )
        h = self.dense(inputs)
        h = h.view(inputs.shape[0], channels(self.config, 0), *self.base_shape)
        h = torch.relu(self.dense_norm(h))
        return self.upsample(h).squeeze(1)


class StackDiscriminator(nn.Module):
    """Input (+ labels) -> :func:`downsampling` -> flatten -> :class:`ProjectionHead`.

    The body of both discriminators; ``size`` is the input's spatial shape and
    ``base_shape`` what the stack reduces it to.
    """

    def __init__(
        self,
        cfg: Any,
        conv: type[nn.Module],
        *,
        size: tuple[int, ...],
        base_shape: tuple[int, ...],
        what: str,
        shuffle: Callable[[], nn.Module] | None = None,
    ):
        super().__init__()
        self.config = cfg
        self.size, self.what = tuple(size), what
        self.downsample, width = downsampling(cfg, conv, shuffle)
        self.head = ProjectionHead(width * math.prod(base_shape), cfg.n_classes)
        self.head.linear = spectral(cfg, self.head.linear)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch,)``; ``labels``: ``(batch,)`` ints when ``n_classes > 0``."""
        h = self.downsample(single_channel(x, self.size, self.what))
        return self.head(h.flatten(1), labels)
