"""Music denoising baselines: spectral gating, Wiener / MMSE-STSA, hum notches, declicking.

Every function takes audio ``y`` of shape ``(samples,)`` or ``(channels,
samples)`` (NumPy array or torch tensor, floating point, finite) and its sample
rate ``sr``, with keyword-only settings, and returns audio of the same shape, type
and dtype. ``strength`` (0..1) scales how much is removed; 0 returns the input
exactly. Bad input raises :class:`~torchmusic.errors.ParameterError` naming it.

- :func:`spectral_gate`: a smoothed soft mask from a noise spectrum (a noise
  clip, the signal's quiet frames, or a running estimate).
- :func:`wiener`: decision-directed Wiener or MMSE-STSA gain with
  minimum-statistics noise tracking.
- :func:`dehum`: zero-phase notch comb at the detected 50 / 60 Hz and harmonics
  (:func:`detect_hum` finds it).
- :func:`declick`: autoregressive-residual click detection and least-squares AR
  interpolation.

Chain them cheapest-first for mixed damage: ``dehum`` -> ``declick`` -> a spectral
method (the spectral methods keep tonal noise, which looks like a held note).
See ``docs/denoise.md``.

Examples
--------
>>> from torchmusic.enhance import dehum, spectral_gate  # doctest: +SKIP
>>> out = spectral_gate(dehum(y, sr), sr, strength=0.8)  # doctest: +SKIP
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_LAZY = {
    "declick": "torchmusic.enhance.clicks",
    "dehum": "torchmusic.enhance.hum",
    "detect_hum": "torchmusic.enhance.hum",
    "mmse_stsa_gain": "torchmusic.enhance.mmse",
    "spectral_gate": "torchmusic.enhance.gate",
    "wiener": "torchmusic.enhance.mmse",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
