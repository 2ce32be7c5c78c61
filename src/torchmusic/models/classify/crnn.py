"""Convolutional-recurrent classifier: a conv front end and a bidirectional LSTM/GRU over time."""

from __future__ import annotations

import dataclasses
from typing import Literal

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
    halving_plan,
    root_plan,
)


@dataclasses.dataclass
class CRNNConfig:
    """Settings of :class:`CRNN`.

    Parameters
    ----------
    n_mels, n_frames, n_classes : int
        Input feature bins, frames per clip, outputs.
    channels : tuple of int
        Output channels of the conv-BN-ReLU-pool blocks.
    time_pools : int
        How many of the first blocks also halve time (the rest pool frequency only),
        so the recurrent layer still sees a sequence.
    rnn : {"lstm", "gru"}
        Recurrent layer (the seed used an LSTM).
    rnn_hidden : int
        Hidden units per direction.
    rnn_layers : int
        Stacked recurrent layers.
    temporal_pooling : {"mean", "max", "last"}
        How the sequence of recurrent outputs becomes one vector ("last": the
        forward direction's last step and the backward direction's first).
    dropout : float
        Dropout between recurrent layers and before the output layer.
    input_norm : bool
        Batch-normalise the input (see :class:`SimpleCNNConfig`).
    example_norm : {"none", "max", "mean", "standard"}
        Normalise each example on its own before ``input_norm``
        (:class:`~torchmusic.models.classify._common.ExampleNorm`); ``"max"``
        subtracts each clip's peak, so dB features become level-invariant (drum
        kits recorded at other levels). ``"none"`` (default) keeps the input as is.
    """

    n_mels: int
    n_frames: int
    n_classes: int
    channels: tuple[int, ...] = (64, 128, 128, 128)
    time_pools: int = 2
    rnn: Literal["lstm", "gru"] = "lstm"
    rnn_hidden: int = 128
    rnn_layers: int = 2
    temporal_pooling: Literal["mean", "max", "last"] = "mean"
    dropout: float = 0.3
    input_norm: bool = True
    example_norm: str = "none"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_sizes(owner, self.n_mels, self.n_frames, self.n_classes)
        check_choice(owner, "example_norm", self.example_norm, EXAMPLE_NORMS)
        self.channels = check_int_tuple(owner, "channels", self.channels)
        if self.time_pools != 0:
            check_positive_int(owner, "time_pools", self.time_pools)
        check_choice(owner, "rnn", self.rnn, ("lstm", "gru"))
        check_positive_int(owner, "rnn_hidden", self.rnn_hidden)
        check_positive_int(owner, "rnn_layers", self.rnn_layers)
        check_choice(owner, "temporal_pooling", self.temporal_pooling, ("mean", "max", "last"))
        self.dropout = check_dropout(owner, self.dropout)


class CRNN(nn.Module):
    """Conv blocks pooling mostly frequency, a bidirectional LSTM/GRU over time, a linear head.

    Frequency pooling is planned so the ``n_mels`` bins shrink to about 1 over the
    blocks; time is halved in the first ``time_pools`` blocks (never below one frame).
    What is left of frequency is flattened into the recurrent layer's input.

    Parameters
    ----------
    config : CRNNConfig

    Notes
    -----
    Parameters (trainable), default settings, 10 classes: 1.03 M, for 128 mels x 130
    frames as for 64 mels x 44 frames (frequency is pooled down to 1 whatever
    ``n_mels``, so the recurrent input width is the last block's channels).

    Examples
    --------
    >>> model = CRNN(CRNNConfig(n_mels=64, n_frames=44, n_classes=8, rnn="gru"))
    >>> model(torch.randn(2, 64, 44)).shape
    torch.Size([2, 8])
    """

    def __init__(self, config: CRNNConfig) -> None:
        super().__init__()
        self.config = config
        self.example_norm = ExampleNorm(config.example_norm)
        self.input_norm = nn.BatchNorm2d(1) if config.input_norm else nn.Identity()
        n_blocks = len(config.channels)
        time_plan = halving_plan(config.n_frames, min(config.time_pools, n_blocks))
        time_plan += [1] * (n_blocks - len(time_plan))
        blocks: list[nn.Module] = []
        c_in, f = 1, config.n_mels
        for pf, pt, c_out in zip(
            root_plan(config.n_mels, n_blocks), time_plan, config.channels, strict=True
        ):
            blocks += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d((pf, pt)),
            ]
            c_in, f = c_out, f // pf
        self.conv = nn.Sequential(*blocks)
        rnn_cls = nn.LSTM if config.rnn == "lstm" else nn.GRU
        self.rnn = rnn_cls(
            input_size=c_in * f,
            hidden_size=config.rnn_hidden,
            num_layers=config.rnn_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.rnn_layers > 1 else 0.0,
        )
        self.head = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(2 * config.rnn_hidden, config.n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)`` of features ``x`` ``(batch, n_mels, n_frames)``."""
        h = self.input_norm(self.example_norm(x).unsqueeze(1))
        h = self.conv(h)  # (batch, channels, freq, time)
        h = h.flatten(1, 2).transpose(1, 2)  # (batch, time, channels * freq)
        out, _ = self.rnn(h)  # (batch, time, 2 * hidden)
        if self.config.temporal_pooling == "mean":
            pooled = out.mean(dim=1)
        elif self.config.temporal_pooling == "max":
            pooled = out.amax(dim=1)
        else:
            hidden = self.config.rnn_hidden
            pooled = torch.cat([out[:, -1, :hidden], out[:, 0, hidden:]], dim=1)
        return self.head(pooled)
