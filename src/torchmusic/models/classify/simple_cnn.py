"""The seed system's CNN: two 5x5 convolutions with max-pooling and a 1000-unit dense layer."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.classify._common import (
    EXAMPLE_NORMS,
    ExampleNorm,
    check_choice,
    check_dropout,
    check_int_tuple,
    check_positive_int,
    check_sizes,
    halving_plan,
)


@dataclasses.dataclass
class SimpleCNNConfig:
    """Settings of :class:`SimpleCNN`.

    Parameters
    ----------
    n_mels : int
        Feature bins of the input (mel bands, or MFCCs / chroma bins for those features).
    n_frames : int
        Frames per input clip; sizes the dense layer.
    n_classes : int
        Outputs.
    channels : tuple of int
        Output channels of the convolutions (the seed: 32 then 64).
    kernel_size : int
        Odd convolution size (5); convolutions are "same"-padded.
    dense_units : int
        Width of the hidden dense layer (1000).
    dropout : float
        Dropout before the output layer.
    input_norm : bool
        Batch-normalise the input: log-mel values in dB are far from zero mean and
        unit variance, and a learnt normaliser keeps the model file self-contained
        (no separate dataset statistics to ship).
    example_norm : {"none", "max", "mean", "standard"}
        Normalise each example on its own before ``input_norm``
        (:class:`~torchmusic.models.classify._common.ExampleNorm`); ``"max"``
        subtracts each clip's peak, so dB features become level-invariant (drum
        kits recorded at other levels). ``"none"`` (default) keeps the input as is.
    """

    n_mels: int
    n_frames: int
    n_classes: int
    channels: tuple[int, ...] = (32, 64)
    kernel_size: int = 5
    dense_units: int = 1000
    dropout: float = 0.5
    input_norm: bool = True
    example_norm: str = "none"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_sizes(owner, self.n_mels, self.n_frames, self.n_classes)
        check_choice(owner, "example_norm", self.example_norm, EXAMPLE_NORMS)
        self.channels = check_int_tuple(owner, "channels", self.channels)
        check_positive_int(owner, "kernel_size", self.kernel_size)
        if self.kernel_size % 2 == 0:
            raise ParameterError(f"{owner}: kernel_size={self.kernel_size} must be odd")
        check_positive_int(owner, "dense_units", self.dense_units)
        self.dropout = check_dropout(owner, self.dropout)


class SimpleCNN(nn.Module):
    """Two convolution + ReLU + 2x2 max-pool blocks, a dense layer, dropout, output layer.

    The seed system's genre classifier. Pooling is 2x2 except along a dimension that
    is already 1 (tiny inputs), so any input size works; the dense layer's input size
    follows from ``(n_mels, n_frames)``.

    Parameters
    ----------
    config : SimpleCNNConfig

    Notes
    -----
    Parameters (trainable), almost all in the first dense layer:
    3 s clips at 22050 Hz / hop 512 (130 frames), 128 mels, 10 classes: 65.6 M;
    1 s (44 frames), 64 mels, 8 classes: 11.3 M.

    Examples
    --------
    >>> model = SimpleCNN(SimpleCNNConfig(n_mels=64, n_frames=44, n_classes=8))
    >>> model(torch.randn(2, 64, 44)).shape
    torch.Size([2, 8])
    """

    def __init__(self, config: SimpleCNNConfig) -> None:
        super().__init__()
        self.config = config
        self.example_norm = ExampleNorm(config.example_norm)
        self.input_norm = nn.BatchNorm2d(1) if config.input_norm else nn.Identity()
        layers: list[nn.Module] = []
        c_in, f, t = 1, config.n_mels, config.n_frames
        for pf, pt, c_out in zip(
            halving_plan(f, len(config.channels)),
            halving_plan(t, len(config.channels)),
            config.channels,
            strict=True,
        ):
            layers += [
                nn.Conv2d(c_in, c_out, config.kernel_size, padding=config.kernel_size // 2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d((pf, pt)),
            ]
            c_in, f, t = c_out, f // pf, t // pt
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * f * t, config.dense_units),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.dense_units, config.n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)`` of features ``x`` ``(batch, n_mels, n_frames)``."""
        return self.classifier(self.features(self.input_norm(self.example_norm(x).unsqueeze(1))))
