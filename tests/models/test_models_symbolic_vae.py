"""MusicVAE: shapes, determinism, loss terms, slerp and interpolation endpoints."""

from __future__ import annotations

import math

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.symbolic import MusicVAE, MusicVAEConfig, slerp

V, L = 25, 12


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _vae(hierarchical):
    torch.manual_seed(0)
    cfg = MusicVAEConfig(
        vocab_size=V, seq_len=L, latent=6, enc_hidden=16, dec_hidden=16, n_embd=8,
        conductor_hidden=8, hierarchical=hierarchical, n_segments=3,
    )  # fmt: skip
    return MusicVAE(cfg).eval()


def _ids(b=3, seed=0):
    return torch.randint(0, V, (b, L), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("hierarchical", [False, True])
def test_shapes_and_determinism(hierarchical):
    vae = _vae(hierarchical)
    ids = _ids()
    mu, logvar = vae.encode(ids)
    assert mu.shape == logvar.shape == (3, 6)
    torch.testing.assert_close(vae.encode(ids)[0], mu, rtol=0, atol=0)
    assert vae.decode(mu, target=ids).shape == (3, L, V)
    greedy = vae.decode(mu)
    assert greedy.shape == (3, L, V)
    assert vae.decode(mu, max_len=5).shape == (3, 5, V)
    # Greedy decoding == sampling at temperature 0, and teacher forcing on the greedy
    # output reproduces the greedy logits (the same computation, batched).
    ids_greedy = vae.sample(mu, temperature=0)
    assert torch.equal(ids_greedy, greedy.argmax(-1))
    torch.testing.assert_close(vae.decode(mu, target=ids_greedy), greedy, rtol=0, atol=1e-5)
    a = vae.sample(mu, temperature=1.0, top_p=0.9, seed=3)
    assert a.shape == (3, L) and a.dtype == torch.long
    assert torch.equal(a, vae.sample(mu, temperature=1.0, top_p=0.9, seed=3))
    assert not torch.equal(a, vae.sample(mu, temperature=1.0, top_p=0.9, seed=4))
    torch.testing.assert_close(vae.prior(2, seed=1), vae.prior(2, seed=1), rtol=0, atol=0)


def test_hierarchical_decoder_is_segmented():
    # Changing the token at the start of segment 2 changes that segment's logits
    # only through the previous-token input; the conductor code (from z) is the same.
    vae = _vae(True)
    ids = _ids(1)
    z = torch.randn(1, 6, generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[0, 9] = (changed[0, 9] + 1) % V
    a, b = vae.decode(z, target=ids), vae.decode(z, target=changed)
    torch.testing.assert_close(a[:, :10], b[:, :10], rtol=0, atol=0)
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_loss_terms():
    vae = _vae(False)
    ids = _ids()
    out = vae.loss(ids, beta=0.5, free_bits=0.0, sample_z=False)
    assert set(out) >= {"loss", "recon", "kl", "kl_cost", "recon_per_token"}
    assert out["kl"] >= 0 and out["recon"] > 0
    torch.testing.assert_close(out["loss"], out["recon"] + 0.5 * out["kl"])
    torch.testing.assert_close(out["recon_per_token"], out["recon"] / L)
    # Untrained, the recon is near uniform guessing: ~ln V nats per token.
    assert abs(out["recon_per_token"].item() - math.log(V)) < 0.5
    free = vae.loss(ids, beta=0.5, free_bits=1e6, sample_z=False)
    assert free["kl_cost"] == 0
    torch.testing.assert_close(free["loss"], free["recon"])
    out["loss"].backward()
    assert vae.to_mu.weight.grad is not None
    with pytest.raises(ParameterError, match="beta"):
        vae.loss(ids, beta=-1)


def test_slerp():
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    # Codes of equal norm stay on their circle (a straight line would shrink to 0.71x).
    c = torch.tensor([[0.0, 3.0]])
    torch.testing.assert_close(slerp(a, c, 0.5), torch.tensor([[1.5, 1.5]]) * math.sqrt(2))
    torch.testing.assert_close(slerp(a, c, 1 / 3), 3 * torch.tensor([[0.75**0.5, 0.5]]))
    torch.testing.assert_close(slerp(a, 2 * a, 0.5), 1.5 * a)  # parallel: linear
    with pytest.raises(ParameterError, match="t="):
        slerp(a, b, 1.5)


@pytest.mark.parametrize("hierarchical", [False, True])
def test_interpolate_endpoints(hierarchical):
    vae = _vae(hierarchical)
    ids = _ids(2, seed=5)
    walk = vae.interpolate(ids[0], ids[1:], 5)
    assert len(walk) == 5 and all(len(s) == L for s in walk)
    mu, _ = vae.encode(ids)
    assert walk[0] == vae.sample(mu[:1], temperature=0)[0].tolist()
    assert walk[-1] == vae.sample(mu[1:], temperature=0)[0].tolist()
    assert walk == vae.interpolate(ids[0], ids[1], 5)
    with pytest.raises(ParameterError, match="steps"):
        vae.interpolate(ids[0], ids[1], 1)


def test_config_and_input_errors():
    with pytest.raises(ParameterError, match="divisible by n_segments"):
        MusicVAEConfig(vocab_size=V, seq_len=10, hierarchical=True, n_segments=4)
    vae = _vae(False)
    with pytest.raises(ParameterError, match="seq_len=12"):
        vae.encode(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ParameterError, match="latent=6"):
        vae.decode(torch.zeros(1, 4))
    with pytest.raises(ParameterError, match="max_len"):
        vae.sample(torch.zeros(1, 6), max_len=13)
