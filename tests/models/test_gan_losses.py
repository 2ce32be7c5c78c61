"""GAN losses on hand-checkable cases: the gradient penalty, Wasserstein, hinge, LSGAN."""

from __future__ import annotations

import math

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.gan import (
    WaveGANConfig,
    WaveGANDiscriminator,
    adversarial_losses,
    gradient_penalty,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    wgan_discriminator_loss,
    wgan_generator_loss,
)


def rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class Linear(torch.nn.Module):
    """``D(x) = w . x`` over the flattened example: its gradient is ``w`` everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        out = x.flatten(1) @ self.w.flatten()
        # A label-dependent offset has no gradient w.r.t. x: the penalty must not change.
        return out if labels is None else out + labels.float()


# -- gradient penalty -------------------------------------------------------------------
@pytest.mark.parametrize("w_norm", [0.5, 1.0, 3.0])
def test_gradient_penalty_of_a_linear_critic_is_exact(w_norm: float) -> None:
    w = torch.randn(2, 5, generator=rng())
    w = w * (w_norm / w.norm())
    real = torch.randn(4, 2, 5, generator=rng(1))
    fake = torch.randn(4, 2, 5, generator=rng(2))
    gp = gradient_penalty(Linear(w), real, fake)
    # Exact up to float32 rounding of ||w||.
    assert gp.item() == pytest.approx(10 * (w_norm - 1) ** 2, rel=1e-5, abs=1e-5)
    assert gradient_penalty(Linear(w), real, fake, weight=2.0).item() == pytest.approx(
        2 * (w_norm - 1) ** 2, rel=1e-5, abs=1e-5
    )
    # Labels pass through to the critic and, having no gradient w.r.t. x, change nothing.
    labelled = gradient_penalty(Linear(w), real, fake, labels=torch.tensor([0, 1, 2, 0]))
    assert labelled.item() == pytest.approx(gp.item(), rel=1e-5, abs=1e-5)


def test_gradient_penalty_backpropagates_to_the_critic() -> None:
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w||; with ||w|| = 3 that is 40 w / 3.
    w = torch.tensor([3.0, 0.0, 0.0, 0.0])
    critic = Linear(w)
    gradient_penalty(critic, torch.randn(3, 4), torch.randn(3, 4)).backward()
    assert torch.allclose(critic.w.grad, 40 * w / 3, atol=1e-4)


def test_gradient_penalty_interpolates_per_example() -> None:
    # D(x) = 0.5 ||x||^2 has gradient x: at x_hat = eps real + (1 - eps) fake. With
    # fake = 0 the gradient norm is eps_i ||real_i||, one eps per example in [0, 1).
    class Quadratic(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 0.5 * x.square().sum(dim=1)

    real = torch.full((256, 1), 10.0)
    torch.manual_seed(0)
    gp = gradient_penalty(Quadratic(), real, torch.zeros_like(real), weight=1.0)
    # E[(10 eps - 1)^2] = 100/3 - 10 + 1 for eps ~ U[0, 1); one eps for the whole batch
    # would give (10 eps - 1)^2 for a single draw, almost never this close to the mean.
    assert gp.item() == pytest.approx(100 / 3 - 9, rel=0.15)
    # Same real and fake: x_hat is real whatever eps, so the penalty is exact.
    real = torch.tensor([[3.0, 4.0], [0.6, 0.8]])  # norms 5 and 1
    exact = gradient_penalty(lambda x: 0.5 * x.square().sum(dim=1), real, real)
    assert exact.item() == pytest.approx(10 * ((5 - 1) ** 2 + 0) / 2)


def test_gradient_penalty_on_wavegan_is_finite_and_works_under_no_grad() -> None:
    cfg = WaveGANConfig(latent_dim=4, dim=2, length=256, n_layers=2, n_classes=3)
    d = WaveGANDiscriminator(cfg)
    real, fake = torch.randn(2, 256, generator=rng()), torch.randn(2, 256, generator=rng(1))
    with torch.no_grad():  # as an evaluation loop might call it
        gp = gradient_penalty(d, real, fake, labels=torch.tensor([0, 2]))
    assert math.isfinite(gp.item()) and gp.item() >= 0
    gp = gradient_penalty(d, real, fake, labels=torch.tensor([0, 2]))
    gp.backward()
    assert d.head.linear.weight.grad is not None


def test_gradient_penalty_refuses_bad_input() -> None:
    critic = Linear(torch.ones(3))
    with pytest.raises(ParameterError, match=r"\(2, 3\) vs fake of \(2, 4\)"):
        gradient_penalty(critic, torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ParameterError, match="weight=-1"):
        gradient_penalty(critic, torch.zeros(2, 3), torch.zeros(2, 3), weight=-1)


# -- adversarial losses -----------------------------------------------------------------
def test_wgan_losses_by_hand() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0, 4.0])
    assert wgan_discriminator_loss(real, fake).item() == pytest.approx(1.0 - 2.0)
    assert wgan_generator_loss(fake).item() == pytest.approx(-1.0)


def test_hinge_and_lsgan_losses_on_single_critic_logits() -> None:
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.0])
    # relu(1 - r): 0.5, 0 -> 0.25; relu(1 + f): 0, 1 -> 0.5
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.75)
    assert hinge_generator_loss(fake).item() == pytest.approx(1.0)
    # (1 - r)^2: 0.25, 1 -> 0.625; f^2: 4, 0 -> 2
    assert lsgan_discriminator_loss(real, fake).item() == pytest.approx(2.625)
    assert lsgan_generator_loss(fake).item() == pytest.approx(5.0)  # (9 + 1) / 2


def test_adversarial_losses_by_name() -> None:
    assert adversarial_losses("wgan-gp") == (wgan_discriminator_loss, wgan_generator_loss)
    assert adversarial_losses("hinge") == (hinge_discriminator_loss, hinge_generator_loss)
    assert adversarial_losses("lsgan") == (lsgan_discriminator_loss, lsgan_generator_loss)
    with pytest.raises(ParameterError, match=r"'wgan'.*\['hinge', 'lsgan', 'wgan-gp'\]"):
        adversarial_losses("wgan")
