"""GAN objectives for a single critic: WGAN-GP, hinge and least squares.

The hinge and LSGAN losses are the vocoder's (:mod:`torchmusic.models.vocoder.losses`),
which take one ``(batch,)`` logit tensor as well as a list of them; this module adds
the Wasserstein losses and the gradient penalty, and :func:`adversarial_losses` picks a
pair by name. Every discriminator loss takes the real side first and expects the
fakes already detached; every loss is a mean over the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.vocoder.losses import (
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)

__all__ = [
    "ADVERSARIAL_LOSSES",
    "adversarial_losses",
    "gradient_penalty",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "wgan_discriminator_loss",
    "wgan_generator_loss",
]


def wgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss ``mean(D(fake)) - mean(D(real))`` (add :func:`gradient_penalty`).

    Examples
    --------
    >>> wgan_discriminator_loss(torch.tensor([1.0, 3.0]), torch.tensor([-1.0]))
    tensor(-3.)
    """
    return fake_logits.mean() - real_logits.mean()


def wgan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator loss ``-mean(D(fake))`` (the same formula as hinge's).

    Examples
    --------
    >>> wgan_generator_loss(torch.tensor([1.0, 3.0]))
    tensor(-2.)
    """
    return -fake_logits.mean()


def gradient_penalty(
    discriminator: nn.Module | Callable[..., torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    weight: float = 10.0,
) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al., 2017): ``weight * mean((||grad D(x_hat)||_2 - 1)^2)``.

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1)`` per example,
    the gradient taken w.r.t. the whole example (all samples, or all pixels). Built
    with ``create_graph=True``, so that ``backward()`` reaches the discriminator's
    weights.

    Parameters
    ----------
    discriminator : callable
        ``discriminator(x)`` (or ``discriminator(x, labels)``) -> ``(batch,)`` logits.
    real, fake : Tensor
        Same shape ``(batch, ...)``; both are detached here.
    labels : Tensor, optional
        ``(batch,)`` class labels for a conditional discriminator (interpolating keeps
        the label: real and fake examples of a pair share it).
    weight : float
        The paper's lambda, 10.

    Returns
    -------
    Tensor
        0-dim.

    Examples
    --------
    >>> critic = torch.nn.Linear(3, 1, bias=False)
    >>> _ = critic.weight.data.copy_(torch.tensor([[2.0, 0.0, 0.0]]))
    >>> gp = gradient_penalty(lambda x: critic(x).squeeze(1), torch.randn(4, 3), torch.randn(4, 3))
    >>> gp.item()  # ||grad|| = ||w|| = 2 everywhere: 10 * (2 - 1)^2
    10.0
    """
    if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise ParameterError(f"weight={weight!r} must be a finite number >= 0")
    if real.shape != fake.shape:
        raise ParameterError(
            f"real of shape {tuple(real.shape)} vs fake of {tuple(fake.shape)}: interpolating "
            f"needs the same shape"
        )
    eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    # enable_grad: the penalty is a training loss even when called under no_grad.
    with torch.enable_grad():
        logits = discriminator(x_hat) if labels is None else discriminator(x_hat, labels)
        (grad,) = torch.autograd.grad(logits.sum(), x_hat, create_graph=True)
        # The tiny constant keeps the sqrt differentiable where the gradient is 0.
        norm = (grad.flatten(1).square().sum(dim=1) + 1e-12).sqrt()
        return weight * (norm - 1).square().mean()


#: Loss name -> ``(discriminator_loss(real_logits, fake_logits), generator_loss(fake_logits))``.
#: ``"wgan-gp"`` needs :func:`gradient_penalty` added to the discriminator loss.
ADVERSARIAL_LOSSES: dict[str, tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]] = {
    "wgan-gp": (wgan_discriminator_loss, wgan_generator_loss),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
    "lsgan": (lsgan_discriminator_loss, lsgan_generator_loss),
}


def adversarial_losses(
    name: str,
) -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]:
    """``(discriminator_loss, generator_loss)`` of ``name`` in :data:`ADVERSARIAL_LOSSES`.

    Examples
    --------
    >>> d_loss, g_loss = adversarial_losses("hinge")
    >>> float(g_loss(torch.tensor([0.5, 1.5])))
    -1.0
    """
    try:
        return ADVERSARIAL_LOSSES[name]
    except (KeyError, TypeError):
        raise ParameterError(
            f"unknown GAN loss {name!r}; expected one of {sorted(ADVERSARIAL_LOSSES)}"
        ) from None
