"""Music augmentations of log-mel views for contrastive learning (plain torch, no Lightning).

Two crops of one track must stay "the same music" while differing the way two
recordings or releases of it would: level and equalisation, a little pitch and
tempo change, background noise, room reverberation, a codec's band limit, another
piece mixed in quietly. Working on waveforms would cost a resampler and an STFT per
view; these run on a batch of cached log-mel crops ``(batch, n_mels, frames)`` in dB,
on the GPU when training runs there:

- additive mixtures (noise, reverberant tail, another track) are added as *powers*
  (``10 ** (dB / 10)``), the usual approximation of sums of incoherent sources;
- pitch shift moves the mel bins (:func:`~torchmusic.training.augment.freq_shift`),
  time stretch resamples the frame axis of a crop longer than the clip.

:func:`augment_views` applies a settings mapping (:data:`MUSIC_AUGMENT`): each
transform is drawn per example with its own probability, from ``generator``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from torchmusic.errors import ParameterError
from torchmusic.training.augment import freq_mask, freq_shift, random_eq, time_mask
from torchmusic.training.embed.settings import MUSIC_AUGMENT, MUSIC_AUGMENT_KEYS

__all__ = [
    "MUSIC_AUGMENT",
    "add_noise",
    "add_reverb",
    "augment_views",
    "band_limit",
    "check_music_augment",
    "mix_in",
    "time_stretch",
]

_DB = 10.0 / math.log(10.0)  # dB = _DB * ln(power)


def _db_add(a_db: torch.Tensor, b_db: torch.Tensor) -> torch.Tensor:
    """``10 log10(10^(a/10) + 10^(b/10))``: the level of two incoherent sources summed."""
    return _DB * torch.logaddexp(a_db / _DB, b_db / _DB)


def _uniform(shape, low: float, high: float, *, like: torch.Tensor, generator) -> torch.Tensor:
    dev = generator.device if generator is not None else like.device
    u = torch.rand(shape, generator=generator, device=dev)
    return (low + (high - low) * u).to(device=like.device, dtype=like.dtype)


def _chosen(batch: int, prob: float, *, like: torch.Tensor, generator) -> torch.Tensor:
    """Boolean ``(batch,)``: which examples a transform of probability ``prob`` touches."""
    return _uniform((batch,), 0.0, 1.0, like=like, generator=generator) < prob


def mean_level_db(x: torch.Tensor) -> torch.Tensor:
    """Mean power of each example of ``x`` (dB features) in dB, shape ``(batch, 1, 1)``."""
    return _DB * (torch.logsumexp(x.flatten(1) / _DB, dim=1) - math.log(x[0].numel())).view(
        -1, 1, 1
    )


def time_stretch(
    x: torch.Tensor,
    *,
    n_frames: int,
    max_stretch: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Change the tempo of each example by a random factor, returning ``n_frames`` frames.

    Example ``i`` reads the first ``round(n_frames * r_i)`` frames of ``x`` and
    resamples them (linear interpolation) to ``n_frames``; ``r_i`` is log-uniform in
    ``[1 / (1 + max_stretch), 1 + max_stretch]`` (``r > 1``: faster). ``x`` should
    hold ``ceil(n_frames * (1 + max_stretch))`` frames (fewer cap the fastest tempo).

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_bins, frames)
    n_frames : int
        Output frames.
    max_stretch : float >= 0
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor, shape (batch, n_bins, n_frames)

    Examples
    --------
    >>> x = torch.randn(3, 8, 120)
    >>> time_stretch(x, n_frames=100, max_stretch=0.15).shape
    torch.Size([3, 8, 100])
    """
    if not max_stretch >= 0:
        raise ParameterError(f"max_stretch={max_stretch!r} must be >= 0")
    need = math.ceil(n_frames * (1 + max_stretch))
    if x.ndim != 3 or x.shape[-1] < n_frames:
        raise ParameterError(
            f"time_stretch needs (batch, n_bins, >= {n_frames}) frames (best {need}), "
            f"got {tuple(x.shape)}"
        )
    if max_stretch == 0:
        return x[..., :n_frames].clone()
    log_r = _uniform((x.shape[0],), -math.log1p(max_stretch), math.log1p(max_stretch),
                     like=x, generator=generator)  # fmt: skip
    lengths = (n_frames * log_r.exp()).round().long().clamp(2, x.shape[-1]).tolist()
    return torch.stack(
        [
            F.interpolate(x[i : i + 1, :, :n], size=n_frames, mode="linear", align_corners=True)[0]
            for i, n in enumerate(lengths)
        ]
    )


def add_noise(
    x: torch.Tensor,
    *,
    snr_db: tuple[float, float],
    prob: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Add coloured, fluctuating noise at a random SNR to a share ``prob`` of the examples.

    The noise has a random spectral tilt (-12..+6 dB across the bins) and
    exponentially distributed power per bin and frame (what a noise's
    periodogram looks like); its mean power sits ``snr`` dB below the example's.
    """
    b, f, t = x.shape
    snr = _uniform((b, 1, 1), *snr_db, like=x, generator=generator)
    tilt = _uniform((b, 1, 1), -12.0, 6.0, like=x, generator=generator)
    shape_db = tilt * torch.linspace(0, 1, f, device=x.device, dtype=x.dtype).view(1, f, 1)
    fluct = -torch.log(_uniform((b, f, t), 1e-6, 1.0, like=x, generator=generator)) + 1e-6
    noise = shape_db + _DB * torch.log(fluct)
    noise = noise - mean_level_db(noise) + mean_level_db(x) - snr
    mask = _chosen(b, prob, like=x, generator=generator).view(b, 1, 1)
    return torch.where(mask, _db_add(x, noise), x)


def add_reverb(
    x: torch.Tensor,
    *,
    hop_seconds: float,
    max_rt60: float,
    prob: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Smear a share ``prob`` of the examples in time like a room's reverberant tail.

    The tail is the power of every frame decaying exponentially (60 dB in RT60,
    drawn in ``[0.2, max_rt60]`` s) into later frames, mixed 15-6 dB below the
    direct sound: a first-order recursion per bin, run over the frames.
    """
    b, _, t = x.shape
    rt60 = _uniform((b, 1), 0.2, max(0.2, max_rt60), like=x, generator=generator)
    decay = torch.pow(10.0, -6.0 * hop_seconds / rt60)  # power ratio per frame
    wet_db = _uniform((b, 1, 1), -15.0, -6.0, like=x, generator=generator)
    power = torch.pow(10.0, (x - x.amax(dim=(1, 2), keepdim=True)) / 10.0)  # peak 1: no overflow
    tail = torch.zeros_like(power)
    state = torch.zeros_like(power[..., 0])
    for i in range(1, t):
        state = decay * (state + power[..., i - 1])
        tail[..., i] = state
    tail_db = _DB * torch.log(tail + 1e-10) + x.amax(dim=(1, 2), keepdim=True) + wet_db
    mask = _chosen(b, prob, like=x, generator=generator).view(b, 1, 1)
    return torch.where(mask, _db_add(x, tail_db), x)


def band_limit(
    x: torch.Tensor,
    *,
    min_cutoff: float,
    prob: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Low-pass a share ``prob`` of the examples: bins above a random cutoff drop to the floor.

    The cutoff is uniform in ``[min_cutoff, 1]`` of the bins (a lossy codec or an
    old recording); the bins above it take each example's minimum level.
    """
    b, f, _ = x.shape
    cutoff = _uniform((b, 1, 1), min_cutoff, 1.0, like=x, generator=generator) * f
    above = torch.arange(f, device=x.device).view(1, f, 1) >= cutoff
    above = above & _chosen(b, prob, like=x, generator=generator).view(b, 1, 1)
    floor = x.amin(dim=(1, 2), keepdim=True).expand_as(x)
    return torch.where(above, floor, x)


def mix_in(
    x: torch.Tensor,
    *,
    max_db: float,
    prob: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mix another example of the batch (the next one) into a share ``prob`` of them.

    The other example sits ``-20 .. max_db`` dB below the example's mean level: it
    is background, so the view keeps its identity (the "mixing" augmentation of
    COLA / BYOL-A style training).
    """
    b = x.shape[0]
    if b < 2:
        return x.clone()
    other = torch.roll(x, shifts=1, dims=0)
    rel = _uniform((b, 1, 1), -20.0, min(max_db, -1.0), like=x, generator=generator)
    other = other - mean_level_db(other) + mean_level_db(x) + rel
    mask = _chosen(b, prob, like=x, generator=generator).view(b, 1, 1)
    return torch.where(mask, _db_add(x, other), x)


def check_music_augment(settings: Mapping[str, float]) -> dict[str, float]:
    """``settings`` as a plain dict, or :class:`ParameterError` naming an unknown key."""
    unknown = sorted(set(settings) - MUSIC_AUGMENT_KEYS)
    if unknown:
        raise ParameterError(
            f"unknown music augmentation(s) {unknown}; known: {sorted(MUSIC_AUGMENT_KEYS)}"
        )
    return {k: float(v) for k, v in settings.items()}


def augment_views(
    x: torch.Tensor,
    *,
    settings: Mapping[str, float],
    n_frames: int,
    hop_seconds: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Augment a batch of log-mel crops into ``n_frames``-frame views (see the module doc).

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_mels, frames)
        Log-mel crops in dB, ``frames >= ceil(n_frames * (1 + time_stretch))``.
    settings : mapping
        Keys of :data:`MUSIC_AUGMENT` (missing: off).
    n_frames : int
        Frames of the returned views.
    hop_seconds : float
        Seconds per frame (the reverberation's time scale).
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor, shape (batch, n_mels, n_frames)

    Examples
    --------
    >>> x = torch.randn(4, 16, 120) * 10 - 30
    >>> g = torch.Generator().manual_seed(0)
    >>> v = augment_views(x, settings=MUSIC_AUGMENT, n_frames=100, hop_seconds=0.023, generator=g)
    >>> v.shape
    torch.Size([4, 16, 100])
    """
    s = check_music_augment(settings)
    if x.ndim != 3 or not x.is_floating_point():
        raise ParameterError(f"x must be float (batch, n_mels, frames), got {tuple(x.shape)}")
    g = generator
    x = time_stretch(x, n_frames=n_frames, max_stretch=s.get("time_stretch", 0.0), generator=g)
    if s.get("mix_prob", 0) > 0:
        x = mix_in(x, max_db=s.get("mix_db_max", -6.0), prob=s["mix_prob"], generator=g)
    if s.get("reverb_prob", 0) > 0:
        x = add_reverb(
            x,
            hop_seconds=hop_seconds,
            max_rt60=s.get("reverb_rt60_max", 1.5),
            prob=s["reverb_prob"],
            generator=g,
        )
    if s.get("eq_db", 0) > 0:
        x = random_eq(x, max_db=s["eq_db"], generator=g)
    if s.get("pitch_bins", 0) > 0:
        x = freq_shift(x, max_bins=int(s["pitch_bins"]), generator=g)
    if s.get("band_limit_prob", 0) > 0:
        x = band_limit(
            x, min_cutoff=s.get("band_limit_min", 0.5), prob=s["band_limit_prob"], generator=g
        )
    if s.get("noise_prob", 0) > 0:
        snr = (s.get("noise_snr_min", 5.0), s.get("noise_snr_max", 30.0))
        x = add_noise(x, snr_db=snr, prob=s["noise_prob"], generator=g)
    n_masks = int(s.get("n_masks", 1))
    if s.get("time_mask", 0) > 0:
        x = time_mask(x, max_width=int(s["time_mask"] * x.shape[-1]), n_masks=n_masks,
                      generator=g)  # fmt: skip
    if s.get("freq_mask", 0) > 0:
        x = freq_mask(x, max_width=int(s["freq_mask"] * x.shape[-2]), n_masks=n_masks,
                      generator=g)  # fmt: skip
    return x
