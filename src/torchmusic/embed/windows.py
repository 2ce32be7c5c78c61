"""Cut a waveform's features into fixed-length clip windows, as the classifiers' Predictor does."""

from __future__ import annotations

import torch

from torchmusic.data.windows import feature_windows
from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig


def clip_windows(
    y: torch.Tensor,
    *,
    feature: FeatureConfig,
    clip_seconds: float,
    n_frames: int,
    hop_seconds: float | None = None,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Feature windows of a mono waveform, each ``n_frames`` frames of a ``clip_seconds`` clip.

    Features are computed once for the whole signal and sliced by
    :func:`torchmusic.data.windows.feature_windows`, the function behind
    :meth:`torchmusic.serve.predict.Predictor.window_features` (so a classifier
    used as an embedder sees exactly what it sees when predicting); this wrapper
    takes seconds instead of samples.

    Parameters
    ----------
    y : torch.Tensor [shape=(samples,)]
        Mono waveform at ``feature.sr``.
    feature : FeatureConfig
        Features to compute.
    clip_seconds : float
        Window length in seconds.
    n_frames : int
        Frames per window (what the network expects).
    hop_seconds : float, optional
        Seconds between window starts (default ``clip_seconds``).
    device : str or torch.device
        Where the features are computed.

    Returns
    -------
    torch.Tensor [shape=(n_windows, n_bins, n_frames)]
        On ``device``. A signal shorter than one clip gives one padded window.

    Examples
    --------
    >>> w = clip_windows(torch.zeros(5 * 22050), feature=FeatureConfig(n_mels=64),
    ...                  clip_seconds=3.0, n_frames=130)
    >>> tuple(w.shape)
    (2, 64, 130)
    """
    if y.ndim != 1 or y.numel() == 0:
        raise ParameterError(f"y must be a non-empty 1-D waveform, got shape {tuple(y.shape)}")
    hop_seconds = clip_seconds if hop_seconds is None else hop_seconds
    if not (clip_seconds > 0 and hop_seconds > 0):
        raise ParameterError(
            f"clip_seconds={clip_seconds!r} and hop_seconds={hop_seconds!r} must be positive"
        )
    sr = feature.sr
    windows, _ = feature_windows(
        y,
        feature=feature,
        clip_n=round(clip_seconds * sr),
        hop_n=max(1, round(hop_seconds * sr)),
        n_frames=n_frames,
        device=device,
    )
    return windows
