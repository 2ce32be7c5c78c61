"""Short-chunk ResNet (Won et al. 2020): residual 3x3 blocks over ~3.7 s log-mel chunks."""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from torchmusic.models.classify._common import (
    EXAMPLE_NORMS,
    ExampleNorm,
    check_choice,
    check_dropout,
    check_int_tuple,
    check_positive_int,
    check_sizes,
)


@dataclasses.dataclass
class ShortChunkResNetConfig:
    """Settings of :class:`ShortChunkResNet`.

    Parameters
    ----------
    n_mels, n_frames, n_classes : int
        Input feature bins (the paper: 128 mels), frames per clip (the paper: 3.69 s),
        outputs.
    width : int
        Channels of the first blocks (the paper: 128).
    multipliers : tuple of int
        Channels of each residual block as a multiple of ``width``; one entry per block.
        The reference implementation's 7 blocks: ``(1, 1, 2, 2, 2, 2, 4)``.
    dropout : float
        Dropout before the output layer.
    input_norm : bool
        Batch-normalise the input, as the reference implementation does.
    example_norm : {"none", "max", "mean", "standard"}
        Normalise each example on its own before ``input_norm``
        (:class:`~torchmusic.models.classify._common.ExampleNorm`); ``"max"``
        subtracts each clip's peak, so dB features become level-invariant (drum
        kits recorded at other levels). ``"none"`` (default) keeps the input as is.
    """

    n_mels: int
    n_frames: int
    n_classes: int
    width: int = 128
    multipliers: tuple[int, ...] = (1, 1, 2, 2, 2, 2, 4)
    dropout: float = 0.5
    input_norm: bool = True
    example_norm: str = "none"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_sizes(owner, self.n_mels, self.n_frames, self.n_classes)
        check_choice(owner, "example_norm", self.example_norm, EXAMPLE_NORMS)
        check_positive_int(owner, "width", self.width)
        self.multipliers = check_int_tuple(owner, "multipliers", self.multipliers)
        self.dropout = check_dropout(owner, self.dropout)


class ResidualBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN plus a (projected) shortcut, then ReLU.

    Parameters
    ----------
    c_in, c_out : int
        Channels.
    stride : tuple of int
        ``(freq, time)`` down-sampling of the block (2 or 1 per dimension).
    """

    def __init__(self, c_in: int, c_out: int, stride: tuple[int, int]) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != (1, 1) or c_in != c_out:
            # As in the reference code: a 3x3 strided projection, not a 1x1.
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ShortChunkResNet(nn.Module):
    """Short-chunk CNN with residual blocks (Won et al., ISMIR 2020 / ICASSP 2020 code).

    "Evaluation of CNN-based automatic music tagging models": 7 residual blocks of
    3x3 convolutions with batch norm, each halving frequency and time, then global
    max pooling, a dense layer with batch norm and ReLU, dropout and the output
    layer. The paper describes the down-sampling as 2x2 max-pooling; its reference
    code (``ShortChunkCNN_Res``) uses stride-2 convolutions, which are followed here
    (4x cheaper than convolving at full size and pooling afterwards). A dimension
    that has reached 1 is not down-sampled further (stride 1), so tiny inputs such
    as 1 s / 64 mels work too.

    Parameters
    ----------
    config : ShortChunkResNetConfig

    Notes
    -----
    Parameters (trainable), 10 classes (independent of the input size, thanks to the
    global pooling): ``width=128`` (the paper): 12.1 M; ``width=32``: 0.76 M;
    ``width=16``: 0.19 M.

    Examples
    --------
    >>> cfg = ShortChunkResNetConfig(n_mels=64, n_frames=44, n_classes=8, width=16)
    >>> ShortChunkResNet(cfg)(torch.randn(2, 64, 44)).shape
    torch.Size([2, 8])
    """

    def __init__(self, config: ShortChunkResNetConfig) -> None:
        super().__init__()
        self.config = config
        self.example_norm = ExampleNorm(config.example_norm)
        self.input_norm = nn.BatchNorm2d(1) if config.input_norm else nn.Identity()
        blocks: list[nn.Module] = []
        c_in, f, t = 1, config.n_mels, config.n_frames
        for mult in config.multipliers:
            c_out = config.width * mult
            stride = (2 if f > 1 else 1, 2 if t > 1 else 1)
            blocks.append(ResidualBlock(c_in, c_out, stride))
            # Output size of a padded 3x3 conv with stride s is ceil(n / s).
            c_in, f, t = c_out, math.ceil(f / stride[0]), math.ceil(t / stride[1])
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Linear(c_in, c_in),
            nn.BatchNorm1d(c_in),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(c_in, config.n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)`` of features ``x`` ``(batch, n_mels, n_frames)``."""
        h = self.blocks(self.input_norm(self.example_norm(x).unsqueeze(1)))
        return self.head(h.amax(dim=(2, 3)))  # global max pooling over frequency and time
