"""Recommender networks (plain ``nn.Module`` + dataclass config; training is in
:mod:`torchmusic.training.recommend`)."""

from __future__ import annotations

from torchmusic.models.recommend.two_tower import TwoTower, TwoTowerConfig

__all__ = ["TwoTower", "TwoTowerConfig"]
