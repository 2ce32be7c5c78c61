"""Two-tower recommender network: users are pooled embeddings of the items they played.

The user tower has no per-user parameters: a user (or an anonymous session of
liked items) is the normalised weighted sum of "context" embeddings of their
items. New users and sessions therefore need no retraining, and the model has
~2 x n_items x dim parameters whatever the number of users. The item tower is an
embedding plus a popularity bias; a score is the dot product of the two.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from torchmusic.errors import ParameterError


@dataclasses.dataclass
class TwoTowerConfig:
    """Sizes of a :class:`TwoTower` network.

    Attributes
    ----------
    n_items : int
        Number of items (rows of both embedding tables).
    dim : int
        Embedding size.
    init_std : float
        Standard deviation of the initial embeddings.
    """

    n_items: int
    dim: int = 64
    init_std: float = 0.01

    def __post_init__(self) -> None:
        for name in ("n_items", "dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive int")
        if not self.init_std > 0:
            raise ParameterError(f"init_std={self.init_std!r} must be positive")


class TwoTower(nn.Module):
    """Scores ``(B, n_items)`` for users given as bags of (item, weight) pairs.

    Parameters
    ----------
    config : TwoTowerConfig

    Examples
    --------
    >>> net = TwoTower(TwoTowerConfig(n_items=5, dim=4))
    >>> items = torch.tensor([0, 3, 1])  # user 0 played items 0 and 3, user 1 item 1
    >>> offsets = torch.tensor([0, 2])
    >>> net(items, offsets, torch.ones(3)).shape
    torch.Size([2, 5])
    """

    def __init__(self, config: TwoTowerConfig) -> None:
        super().__init__()
        self.config = config
        self.context = nn.EmbeddingBag(config.n_items, config.dim, mode="sum")
        self.items = nn.Embedding(config.n_items, config.dim)
        self.bias = nn.Parameter(torch.zeros(config.n_items))
        nn.init.normal_(self.context.weight, std=config.init_std)
        nn.init.normal_(self.items.weight, std=config.init_std)

    def user_embedding(
        self, items: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        """User vectors ``(B, dim)`` from flattened bags (``EmbeddingBag`` layout).

        Parameters
        ----------
        items : torch.Tensor, shape (N,), int64
            Item indices of all users, concatenated.
        offsets : torch.Tensor, shape (B,), int64
            Where each user's items start in ``items``.
        weights : torch.Tensor, shape (N,), float
            Weight of each (user, item) entry.
        """
        pooled = self.context(items, offsets, per_sample_weights=weights)
        # Divide by sqrt(total weight): long histories do not swamp the score scale,
        # yet a user with more evidence gets a more confident (longer) vector.
        totals = torch.zeros(offsets.shape[0], device=weights.device, dtype=weights.dtype)
        bag = (
            torch.bucketize(torch.arange(items.shape[0], device=items.device), offsets, right=True)
            - 1
        )
        totals = totals.index_add(0, bag, weights)
        return pooled / totals.clamp_min(1.0).sqrt().unsqueeze(1)

    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, n_items)`` of user vectors ``(B, dim)``."""
        return users @ self.items.weight.T + self.bias

    def forward(
        self, items: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        return self.score(self.user_embedding(items, offsets, weights))
