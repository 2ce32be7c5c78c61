"""Embedding networks: shapes, normalisation, the NT-Xent loss and config validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from torchmusic.errors import ParameterError
from torchmusic.models.embed import (
    AutoencoderConfig,
    ContrastiveConfig,
    build_embedder,
    embedder_architecture_of,
    nt_xent_loss,
)
from torchmusic.models.embed._blocks import standardize_clips


@pytest.mark.parametrize("arch", ["autoencoder", "contrastive"])
@pytest.mark.parametrize(("n_mels", "n_frames"), [(16, 44), (64, 130), (5, 3)])
def test_embed_shapes_and_unit_norm(arch, n_mels, n_frames):
    model = build_embedder(arch, n_mels=n_mels, n_frames=n_frames, dim=12).eval()
    z = model.embed(torch.randn(3, n_mels, n_frames))
    assert z.shape == (3, 12)
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
    assert embedder_architecture_of(model) == arch


def test_autoencoder_reconstructs_its_input_shape_and_learns():
    torch.manual_seed(0)
    model = build_embedder("autoencoder", n_mels=16, n_frames=21, dim=8, channels=(4, 8))
    x = torch.randn(8, 16, 21).cumsum(dim=2)  # smooth in time: learnable
    assert model(x).shape == x.shape
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = model.reconstruction_loss(x, model(x))
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first


def test_embeddings_ignore_a_constant_db_offset():
    # Per-clip standardisation: a louder copy (+10 dB everywhere) embeds the same.
    model = build_embedder("contrastive", n_mels=16, n_frames=21).eval()
    x = torch.randn(2, 16, 21)
    assert torch.allclose(model.embed(x), model.embed(x + 10.0), atol=1e-4)
    z = standardize_clips(x * 3 + 1)
    assert torch.allclose(z.mean(dim=(1, 2)), torch.zeros(2), atol=1e-5)


def test_wrong_input_shape_is_a_parameter_error():
    model = build_embedder("contrastive", n_mels=16, n_frames=21)
    with pytest.raises(ParameterError, match=r"\(batch, 16, 21\)"):
        model.embed(torch.randn(2, 16, 22))


def test_nt_xent_matches_a_hand_computed_value():
    # Two pairs of orthogonal unit vectors: each anchor's positive has cosine 1,
    # its two negatives cosine 0, so loss = -log(e^(1/t) / (e^(1/t) + 2)).
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = 0.5
    expected = -torch.log(torch.exp(torch.tensor(1 / t)) / (torch.exp(torch.tensor(1 / t)) + 2))
    assert torch.allclose(nt_xent_loss(z1, z1.clone(), temperature=t), expected, atol=1e-6)


def test_nt_xent_groups_drop_same_track_negatives():
    z1 = F.normalize(torch.randn(4, 8), dim=1)
    z2 = F.normalize(torch.randn(4, 8), dim=1)
    plain = nt_xent_loss(z1, z2)
    distinct = nt_xent_loss(z1, z2, groups=torch.arange(4))
    same = nt_xent_loss(z1, z2, groups=torch.tensor([0, 0, 1, 1]))
    assert torch.allclose(plain, distinct)  # all tracks distinct: nothing masked
    assert not torch.allclose(plain, same)
    # With every row in one group only the positive is left: loss 0.
    assert float(nt_xent_loss(z1, z2, groups=torch.zeros(4, dtype=torch.long))) == pytest.approx(0)


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (AutoencoderConfig, {"n_mels": 0, "n_frames": 10}, "n_mels"),
        (AutoencoderConfig, {"n_mels": 8, "n_frames": 10, "channels": []}, "channels"),
        (ContrastiveConfig, {"n_mels": 8, "n_frames": 10, "temperature": 0}, "temperature"),
        (ContrastiveConfig, {"n_mels": 8, "n_frames": 10, "dim": 1.5}, "dim"),
    ],
)
def test_bad_configs_are_parameter_errors(cls, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        cls(**kwargs)


def test_unknown_architecture_and_setting():
    with pytest.raises(ParameterError, match="unknown embedding architecture"):
        build_embedder("vae", n_mels=8, n_frames=8)
    with pytest.raises(ParameterError, match="unknown setting"):
        build_embedder("autoencoder", n_mels=8, n_frames=8, width=3)
