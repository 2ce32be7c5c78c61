"""Contrastive clip encoder (COLA / SimCLR style) and its NT-Xent loss.

Two random crops of the same track are a positive pair; the crops of the other
tracks in the batch are negatives. The encoder's pooled output is the embedding;
the small projection head only serves the loss (SimCLR found embeddings taken
before the head transfer better).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.classify._common import check_int_tuple, check_positive_int
from torchmusic.models.embed._blocks import check_embedding_input, conv_stack, standardize_clips


@dataclasses.dataclass
class ContrastiveConfig:
    """Settings of :class:`ContrastiveEncoder`.

    Parameters
    ----------
    n_mels, n_frames : int
        Input size ``(n_mels, n_frames)``.
    dim : int
        Embedding size.
    proj_dim : int
        Output size of the projection head the loss sees.
    channels : tuple of int
        Output channels of the conv blocks.
    temperature : float
        NT-Xent temperature (kept with the model so training is reproducible).
    """

    n_mels: int
    n_frames: int
    dim: int = 128
    proj_dim: int = 64
    channels: tuple[int, ...] = (16, 32, 64, 128)
    temperature: float = 0.1

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("n_mels", "n_frames", "dim", "proj_dim"):
            check_positive_int(owner, name, getattr(self, name))
        self.channels = check_int_tuple(owner, "channels", self.channels)
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, int | float) or not t > 0:
            raise ParameterError(f"{owner}: temperature={t!r} must be a positive number")
        self.temperature = float(t)


class ContrastiveEncoder(nn.Module):
    """Conv blocks, global mean + max pooling, a linear layer to ``dim``; projection head.

    Parameters
    ----------
    config : ContrastiveConfig

    Examples
    --------
    >>> model = ContrastiveEncoder(ContrastiveConfig(n_mels=64, n_frames=130))
    >>> x = torch.randn(4, 64, 130)
    >>> model.embed(x).shape, model(x).shape
    (torch.Size([4, 128]), torch.Size([4, 64]))
    """

    def __init__(self, config: ContrastiveConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, (c, _, _) = conv_stack(
            config.channels, n_mels=config.n_mels, n_frames=config.n_frames
        )
        self.to_embedding = nn.Linear(2 * c, config.dim)
        self.projection = nn.Sequential(
            nn.Linear(config.dim, config.dim),
            nn.ReLU(inplace=True),
            nn.Linear(config.dim, config.proj_dim),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalised embeddings ``(batch, dim)`` of ``x`` ``(batch, n_mels, n_frames)``."""
        check_embedding_input(type(self).__name__, x, self.config.n_mels, self.config.n_frames)
        h = self.encoder(standardize_clips(x).unsqueeze(1))
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.to_embedding(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Projections ``(batch, proj_dim)`` (what the contrastive loss compares)."""
        return self.projection(self.features(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised clip embeddings ``(batch, dim)``."""
        return F.normalize(self.features(x), dim=-1)


def nt_xent_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float = 0.1,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """Normalised-temperature cross-entropy (SimCLR) of paired views.

    Row ``i`` of ``z1`` and row ``i`` of ``z2`` are two views of one item; every
    other row of either tensor is a negative for them, except rows of the same
    ``group`` (e.g. two crops of one track drawn into the same batch), which are
    left out rather than pushed apart.

    Parameters
    ----------
    z1, z2 : torch.Tensor [shape=(batch, dim)]
        Projections of the two views (need not be normalised).
    temperature : float
        Softmax temperature of the cosine similarities.
    groups : torch.Tensor [shape=(batch,)], optional
        Integer group (track) of each pair.

    Returns
    -------
    torch.Tensor
        Scalar loss, averaged over the ``2 * batch`` anchors.

    Examples
    --------
    >>> z = torch.randn(8, 16)
    >>> bool(nt_xent_loss(z, z) < nt_xent_loss(z, torch.randn(8, 16)))
    True
    """
    if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 2:
        raise ParameterError(
            f"z1 and z2 must both be (batch >= 2, dim), got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    logits = z @ z.T / temperature
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    # An anchor is never its own negative, nor is another crop of its own track.
    drop = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    if groups is not None:
        if groups.shape != (n,):
            raise ParameterError(f"groups must have shape ({n},), got {tuple(groups.shape)}")
        g = torch.cat([groups, groups]).to(z.device)
        drop = drop | (g[:, None] == g[None, :])
        drop[torch.arange(2 * n, device=z.device), targets] = False  # keep the positive
    logits = logits.masked_fill(drop, float("-inf"))
    return F.cross_entropy(logits, targets)
