"""Vocoder losses: adversarial (LSGAN, hinge), feature matching, mel L1, multi-resolution STFT.

Adversarial losses take the per-sub-discriminator lists that the discriminators of
:mod:`.discriminators` return and *sum* over sub-discriminators (as HiFi-GAN does);
a single tensor counts as a list of one, so that single-critic GANs
(:mod:`torchmusic.models.gan`) use the same functions. Loss weights (HiFi-GAN: mel 45,
feature matching 2) are the trainer's business.
Every two-input loss takes the real / target side first: ``loss(real, fake)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.features.modules import LogMelSpectrogram

#: One discriminator's logits, or one tensor per sub-discriminator.
Logits = torch.Tensor | Sequence[torch.Tensor]


def _as_list(logits: Logits) -> Sequence[torch.Tensor]:
    """A single tensor (one discriminator, as in WaveGAN) is a list of one."""
    return [logits] if isinstance(logits, torch.Tensor) else logits


def _check_pairs(real: Sequence[object], fake: Sequence[object], what: str) -> None:
    if len(real) != len(fake):
        raise ParameterError(f"{len(real)} real {what} but {len(fake)} fake ones")
    if not real:
        raise ParameterError(f"no {what} given")


def _zero(like: torch.Tensor) -> torch.Tensor:
    """A 0-dim zero on ``like``'s device and dtype: the start of a sum of losses."""
    return torch.zeros((), device=like.device, dtype=like.dtype)


def lsgan_discriminator_loss(real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
    """Least-squares GAN discriminator loss: ``sum_k mean((1 - r_k)^2) + mean(f_k^2)``.

    Parameters
    ----------
    real_logits, fake_logits : Tensor or list of Tensor
        One logit tensor (any shape) per sub-discriminator, or one tensor for a single
        discriminator; pass the generator's output detached when training the
        discriminator.

    Examples
    --------
    >>> lsgan_discriminator_loss([torch.ones(2, 3)], [torch.ones(2, 3)])
    tensor(1.)
    >>> lsgan_discriminator_loss(torch.ones(4), torch.zeros(4))  # one discriminator
    tensor(0.)
    """
    real_logits, fake_logits = _as_list(real_logits), _as_list(fake_logits)
    _check_pairs(real_logits, fake_logits, "logit tensors")
    return sum(
        (
            torch.mean((1 - r) ** 2) + torch.mean(f**2)
            for r, f in zip(real_logits, fake_logits, strict=True)
        ),
        start=_zero(real_logits[0]),
    )


def lsgan_generator_loss(fake_logits: Logits) -> torch.Tensor:
    """Least-squares GAN generator loss: ``sum_k mean((1 - f_k)^2)``.

    Examples
    --------
    >>> lsgan_generator_loss([torch.zeros(4), torch.ones(4)])
    tensor(1.)
    """
    fake_logits = _as_list(fake_logits)
    _check_pairs(fake_logits, fake_logits, "logit tensors")
    return sum((torch.mean((1 - f) ** 2) for f in fake_logits), start=_zero(fake_logits[0]))


def hinge_discriminator_loss(real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
    """Hinge discriminator loss: ``sum_k mean(relu(1 - r_k)) + mean(relu(1 + f_k))``.

    Examples
    --------
    >>> hinge_discriminator_loss([torch.tensor([0.5, 2.0])], [torch.tensor([-2.0, 0.0])])
    tensor(0.7500)
    """
    real_logits, fake_logits = _as_list(real_logits), _as_list(fake_logits)
    _check_pairs(real_logits, fake_logits, "logit tensors")
    return sum(
        (
            torch.mean(F.relu(1 - r)) + torch.mean(F.relu(1 + f))
            for r, f in zip(real_logits, fake_logits, strict=True)
        ),
        start=_zero(fake_logits[0]),
    )


def hinge_generator_loss(fake_logits: Logits) -> torch.Tensor:
    """Hinge generator loss: ``sum_k -mean(f_k)``.

    Examples
    --------
    >>> hinge_generator_loss([torch.tensor([1.0, 3.0])])
    tensor(-2.)
    """
    fake_logits = _as_list(fake_logits)
    _check_pairs(fake_logits, fake_logits, "logit tensors")
    return sum((-torch.mean(f) for f in fake_logits), start=_zero(fake_logits[0]))


def feature_matching_loss(
    real_features: Sequence[Sequence[torch.Tensor]], fake_features: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """L1 between the discriminator's feature maps of real and generated audio.

    ``sum`` over sub-discriminators and their maps of ``mean(|r - f|)``; the real maps
    are detached (the loss trains the generator, not the discriminator).

    Examples
    --------
    >>> feature_matching_loss([[torch.zeros(3), torch.zeros(2, 2)]],
    ...                       [[torch.full((3,), 0.5), torch.full((2, 2), 0.5)]])
    tensor(1.)
    """
    _check_pairs(real_features, fake_features, "feature lists")
    total = _zero(fake_features[0][0]) if fake_features[0] else torch.zeros(())
    for real_maps, fake_maps in zip(real_features, fake_features, strict=True):
        _check_pairs(real_maps, fake_maps, "feature maps")
        for r, f in zip(real_maps, fake_maps, strict=True):
            if r.shape != f.shape:
                raise ParameterError(
                    f"real feature map of shape {tuple(r.shape)} vs fake one of {tuple(f.shape)}"
                )
            total = total + torch.mean(torch.abs(r.detach() - f))
    return total


def _waveform(y: torch.Tensor, name: str) -> torch.Tensor:
    """``(batch, samples)`` (a ``(batch, 1, samples)`` channel axis is dropped)."""
    if not isinstance(y, torch.Tensor) or not y.is_floating_point():
        raise ParameterError(f"{name} must be a floating-point torch.Tensor")
    if y.ndim == 3 and y.shape[1] == 1:
        y = y.squeeze(1)
    if y.ndim not in (1, 2):
        raise ParameterError(
            f"{name} must be (samples,), (batch, samples) or (batch, 1, samples), "
            f"got shape {tuple(y.shape)}"
        )
    return y


def _check_same_shape(target: torch.Tensor, generated: torch.Tensor) -> None:
    if generated.shape != target.shape:
        raise ParameterError(
            f"target audio of shape {tuple(target.shape)} vs generated of "
            f"{tuple(generated.shape)}; crop both to the same length"
        )


class MelLoss(nn.Module):
    """L1 between log-mels of generated and target audio, in HiFi-GAN's units.

    The log-mel is torchmusic's ``power_to_db(melspectrogram(y))`` (ref 1.0, amin 1e-10,
    no ``top_db`` clamp, which would make silence-vs-noise differences vanish) times
    ``ln(10) / (10 * power)``: the natural log of the mel *amplitude* floored at 1e-5, as in
    HiFi-GAN. So halving a (loud) signal costs ``ln 2``. HiFi-GAN weights this by 45.

    Parameters
    ----------
    feature_config : FeatureConfig, optional
        Sample rate, STFT and mel settings (``kind`` and ``top_db`` are ignored); default
        ``FeatureConfig()``.

    Examples
    --------
    >>> loss = MelLoss()
    >>> y = torch.randn(2, 22050)
    >>> float(loss(y, y))
    0.0
    """

    def __init__(self, feature_config: FeatureConfig | None = None) -> None:
        super().__init__()
        cfg = FeatureConfig() if feature_config is None else feature_config
        if not isinstance(cfg, FeatureConfig):
            raise ParameterError(f"feature_config must be a FeatureConfig, got {cfg!r:.80}")
        self.feature_config = cfg
        self.logmel = LogMelSpectrogram(
            ref=1.0,
            amin=1e-10,
            top_db=None,
            sr=cfg.sr,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            window=cfg.window,
            center=cfg.center,
            pad_mode=cfg.pad_mode,
            power=cfg.power,
            n_mels=cfg.n_mels,
            fmin=cfg.fmin,
            fmax=cfg.fmax,
            htk=cfg.htk,
            norm=cfg.norm,
        )
        # dB = 10 log10(mel of |X|^power) -> ln(amplitude) = dB * ln(10) / (10 * power).
        self.scale = math.log(10.0) / (10.0 * cfg.power)

    def log_mel(self, y: torch.Tensor) -> torch.Tensor:
        """Natural-log mel amplitude ``(batch, n_mels, frames)`` of ``(batch, samples)``."""
        return self.logmel(_waveform(y, "audio")) * self.scale

    def forward(self, target: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        """Mean absolute log-mel difference; differentiable w.r.t. ``generated``.

        Parameters
        ----------
        target, generated : Tensor
            Real first, as in every loss here; ``(batch, samples)``,
            ``(batch, 1, samples)`` or ``(samples,)``, same shape. (The loss is
            symmetric; gradients flow to whichever input requires them.)
        """
        target, generated = _waveform(target, "target"), _waveform(generated, "generated")
        _check_same_shape(target, generated)
        # No no_grad on the target: a tensor without requires_grad costs nothing extra
        # (and takes the blocked CPU path), and swapped arguments still get gradients.
        return F.l1_loss(self.logmel(generated) * self.scale, self.logmel(target) * self.scale)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence and log-magnitude L1 averaged over STFT resolutions.

    From Parallel WaveGAN (Yamamoto et al., 2020): for each ``(n_fft, hop, win_length)``
    with magnitudes ``Y`` (target) and ``X`` (generated) clamped at 1e-7,
    ``sc = ||Y - X||_F / ||Y||_F`` and ``mag = mean |log Y - log X|``.

    Parameters
    ----------
    resolutions : sequence of (n_fft, hop, win_length)

    Examples
    --------
    >>> loss = MultiResolutionSTFTLoss()
    >>> y = torch.randn(2, 8192)
    >>> sc, mag = loss(2 * y, y)  # target 2y, generated y
    >>> round(float(sc), 4), round(float(mag), 4)
    (0.5, 0.6931)
    """

    def __init__(
        self,
        resolutions: Sequence[tuple[int, int, int]] = (
            (512, 128, 512),
            (1024, 256, 1024),
            (2048, 512, 2048),
        ),
    ) -> None:
        super().__init__()
        self.resolutions = tuple(tuple(r) for r in resolutions)
        if not self.resolutions:
            raise ParameterError("resolutions must not be empty")
        for i, res in enumerate(self.resolutions):
            if (
                len(res) != 3
                or not all(isinstance(v, int) and v > 0 for v in res)
                or res[2] > res[0]
            ):
                raise ParameterError(
                    f"resolution {res} must be positive ints (n_fft, hop, win_length) with "
                    f"win_length <= n_fft"
                )
            self.register_buffer(f"window_{i}", torch.hann_window(res[2]), persistent=False)

    def _magnitude(self, y: torch.Tensor, i: int) -> torch.Tensor:
        n_fft, hop, win = self.resolutions[i]
        window = getattr(self, f"window_{i}")
        spec = torch.stft(
            y, n_fft, hop_length=hop, win_length=win, window=window.to(y.dtype), return_complex=True
        )
        # Clamp the power before the sqrt: |.| has an infinite gradient at 0.
        return (spec.real.square() + spec.imag.square()).clamp(min=1e-14).sqrt()

    def forward(
        self, target: torch.Tensor, generated: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(spectral_convergence, log_magnitude)``, each averaged over the resolutions.

        Parameters
        ----------
        target, generated : Tensor
            Real first, as in every loss here (the spectral convergence divides by the
            target's norm); ``(batch, samples)``, ``(batch, 1, samples)`` or
            ``(samples,)``, same shape.
        """
        target, generated = _waveform(target, "target"), _waveform(generated, "generated")
        _check_same_shape(target, generated)
        sc_total = torch.zeros((), device=generated.device)
        mag_total = torch.zeros((), device=generated.device)
        for i in range(len(self.resolutions)):
            x = self._magnitude(generated, i)
            y = self._magnitude(target, i)
            sc_total = sc_total + torch.linalg.norm(y - x) / torch.linalg.norm(y)
            mag_total = mag_total + F.l1_loss(torch.log(x), torch.log(y))
        n = len(self.resolutions)
        return sc_total / n, mag_total / n
