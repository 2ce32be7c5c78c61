"""The PyTorch two-tower network, its Lightning training and its numpy twin."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.recommend import TwoTower, TwoTowerConfig
from torchmusic.recommend import BPRRecommender, evaluate
from torchmusic.training.recommend import TwoTowerTrainConfig, fit_two_tower


def test_defaults_match_the_training_config():
    fields = {f.name: f.default for f in dataclasses.fields(TwoTowerTrainConfig)}
    fields.pop("progress")
    assert BPRRecommender.default_settings() == fields


def test_forward_shapes_and_empty_bags():
    net = TwoTower(TwoTowerConfig(n_items=6, dim=3))
    items = torch.tensor([0, 4, 2])
    offsets = torch.tensor([0, 0, 2])  # the first user has no items
    out = net(items, offsets, torch.ones(3))
    assert out.shape == (3, 6)
    torch.testing.assert_close(out[0], net.bias.detach())  # empty bag: only the item bias


def test_numpy_user_tower_matches_the_network(warm):
    model = BPRRecommender(dim=8, max_epochs=1, batch_size=64).fit(warm.train)
    net = TwoTower(TwoTowerConfig(n_items=warm.train.n_items, dim=8))
    with torch.no_grad():
        net.context.weight.copy_(torch.from_numpy(model.context_))
        net.items.weight.copy_(torch.from_numpy(model.item_factors_))
        net.bias.copy_(torch.from_numpy(model.bias_))
    rows = np.arange(5)
    plays = warm.train.plays[rows]
    lengths = np.diff(plays.indptr)
    with torch.no_grad():
        want = net(
            torch.from_numpy(plays.indices.astype(np.int64)),
            torch.from_numpy(plays.indptr[:-1].astype(np.int64)),
            torch.ones(int(lengths.sum())),
        ).numpy()
    np.testing.assert_allclose(model._score_users(rows), want, rtol=1e-4, atol=1e-5)


def test_bpr_loss_and_validation_early_stopping(warm):
    plays = warm.train.plays
    net, info = fit_two_tower(
        plays,
        TwoTowerTrainConfig(
            dim=8, max_epochs=4, batch_size=64, loss="bpr", val_fraction=0.2, patience=1, lr=0.02
        ),
    )
    assert 1 <= info["epochs"] <= 4 and 0 <= info["val_recall"] <= 1
    assert net.items.weight.shape == (plays.shape[1], 8)
    assert not net.training


def test_bpr_loss_recommender_beats_random(warm):
    model = BPRRecommender(dim=16, max_epochs=8, batch_size=32, lr=0.01, loss="bpr").fit(warm.train)
    assert evaluate(model, warm)["recall"] > 5 * 10 / warm.train.n_items


def test_bad_training_settings():
    with pytest.raises(ParameterError, match="loss='hinge'"):
        TwoTowerTrainConfig(loss="hinge").validate()
    with pytest.raises(ParameterError, match="input_dropout"):
        TwoTowerTrainConfig(input_dropout=1.0).validate()
    with pytest.raises(ParameterError, match="no interactions"):
        fit_two_tower(sp.csr_matrix((3, 4)))
