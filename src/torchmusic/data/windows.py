"""Cut a waveform's features into the fixed-length windows a clip model sees.

Shared by :class:`torchmusic.serve.predict.Predictor` and the embedders
(:func:`torchmusic.embed.windows.clip_windows`), so a classifier used as an
embedder sees exactly what it sees when predicting. It lives with the datasets
because it cuts exactly as they cut clips, and so that both users import it from
below rather than from each other.
"""

from __future__ import annotations

import torch

from torchmusic.data.clips import window_starts
from torchmusic.data.tracks import feature_pad_value, fit_length
from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig


def feature_windows(
    y: torch.Tensor,
    *,
    feature: FeatureConfig,
    clip_n: int,
    hop_n: int,
    n_frames: int,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, list[int]]:
    """Features of ``y`` computed once, sliced into windows of ``n_frames`` frames.

    Windows are cut exactly as the training datasets cut clips from cached
    whole-track features (``TrackDataset._cached_features``): start frame
    ``round(start / hop_length)``, the end padded with the silence level.

    Parameters
    ----------
    y : torch.Tensor [shape=(samples,)]
        Mono waveform at ``feature.sr``.
    feature : FeatureConfig
    clip_n, hop_n : int
        Window length and hop in samples (a signal shorter than one clip gives one
        padded window).
    n_frames : int
        Frames per window.
    device : str or torch.device
        Where the features are computed.

    Returns
    -------
    windows : torch.Tensor [shape=(n_windows, n_bins, n_frames)]
    starts : list of int
        Start sample of each window.

    Examples
    --------
    >>> w, starts = feature_windows(torch.zeros(5 * 22050), feature=FeatureConfig(n_mels=64),
    ...                             clip_n=3 * 22050, hop_n=3 * 22050, n_frames=130)
    >>> tuple(w.shape), starts
    ((2, 64, 130), [0, 66150])
    """
    if y.ndim != 1 or y.numel() == 0:
        raise ParameterError(f"y must be a non-empty 1-D waveform, got shape {tuple(y.shape)}")
    starts = window_starts(y.shape[-1], clip=clip_n, hop=hop_n, last="pad")
    with torch.inference_mode():  # no autograd graph for the whole file's STFT
        feats = feature.compute(y.to(device, torch.float32)).float()
    hop = feature.hop_length
    first = torch.tensor([round(s / hop) for s in starts], device=feats.device)
    need = int(first[-1]) + n_frames
    if feats.shape[-1] < need:
        pad = feature_pad_value(feats.cpu().numpy(), feature)
        feats = fit_length(feats, need, pad_value=pad)
    index = first[:, None] + torch.arange(n_frames, device=feats.device)
    windows = feats[:, index].permute(1, 0, 2)  # (n_windows, n_bins, n_frames)
    return windows.contiguous(), list(starts)
