"""Frame-level likelihood of piano-roll models: the JSB Chorales evaluation protocol.

Boulanger-Lewandowski et al. (2012) report the negative log-likelihood of the test
pieces in nats per *frame*: for every frame ``t`` of every test piece,
``-log p(x_t | x_<t)`` summed over the 88 keys (MIDI 21..108), averaged over all
test frames (pieces weigh by their length, not equally). Here the first frame of
each piece is conditioned on an empty past and counted like every other frame;
no frame is skipped.

Any model with a ``log_prob(roll, *, lengths) -> (B, T)`` method (exact per-frame
log-probabilities, e.g. :class:`torchmusic.models.symbolic.pianoroll.PianoRollModel`)
can be scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from torchmusic.errors import ParameterError


def frame_log_probs(
    model: Any,
    pieces: Sequence[np.ndarray | torch.Tensor],
    *,
    batch_size: int = 32,
    device: str | torch.device | None = None,
) -> list[np.ndarray]:
    """Per-frame ``log p(frame | past)`` (nats, summed over keys) of every piece.

    Parameters
    ----------
    model : nn.Module
        Has ``log_prob(roll (B, T, K), *, lengths) -> (B, T)``. Evaluated in eval
        mode (dropout off) without gradients; its training mode is restored.
    pieces : sequence of array-like, each shape (T_i, K)
        Piano rolls (bool or 0/1), each scored from its first frame.
    batch_size : int
        Pieces per forward pass (pieces are sorted by length, so padding is small).
    device : str or torch.device or None
        Where to run (default: where the model's parameters are).

    Returns
    -------
    list of np.ndarray
        ``out[i]`` has shape ``(T_i,)`` (float64), in the order of ``pieces``.

    Examples
    --------
    >>> from torchmusic.models.symbolic.pianoroll import PianoRollConfig, PianoRollModel
    >>> model = PianoRollModel(PianoRollConfig(frame_hidden=8, note_hidden=8))
    >>> [lp.shape for lp in frame_log_probs(model, [np.zeros((3, 88), bool)])]
    [(3,)]
    """
    from torchmusic.models.symbolic.pianoroll import to_roll_batch

    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
    if len(pieces) == 0:
        raise ParameterError("pieces is empty: nothing to score")
    if device is None:
        device = next(model.parameters()).device
    n_keys = getattr(getattr(model, "config", None), "n_keys", 88)
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
    out: list[np.ndarray | None] = [None] * len(pieces)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                roll, lengths = to_roll_batch([pieces[i] for i in chunk], n_keys=n_keys)
                lp = model.log_prob(roll.to(device), lengths=lengths.to(device))
                lp = lp.double().cpu().numpy()
                for row, i in enumerate(chunk):
                    out[i] = lp[row, : int(lengths[row])]
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def frame_nll(
    model: Any,
    pieces: Sequence[np.ndarray | torch.Tensor],
    *,
    batch_size: int = 32,
    device: str | torch.device | None = None,
) -> float:
    """Negative log-likelihood in nats per frame, averaged over ALL frames of ``pieces``.

    The Boulanger-Lewandowski (2012) protocol: ``sum_i sum_t -log p(x_it | x_i<t)
    / sum_i T_i`` with each frame's log-probability summed over the keys. The first
    frame of each piece is conditioned on an empty past and counted.

    Parameters
    ----------
    model : nn.Module
        Has ``log_prob(roll, *, lengths) -> (B, T)`` (see :func:`frame_log_probs`).
    pieces : sequence of array-like, each shape (T_i, K)
        Piano rolls, e.g. ``load_jsb(path)["test"]``.
    batch_size : int
        Pieces per forward pass.
    device : str or torch.device or None
        Where to run (default: the model's device).

    Returns
    -------
    float
        Nats per frame (lower is better).

    Examples
    --------
    >>> from torchmusic.models.symbolic.pianoroll import PianoRollConfig, PianoRollModel
    >>> model = PianoRollModel(PianoRollConfig(frame_hidden=8, note_hidden=8))
    >>> frame_nll(model, [np.zeros((4, 88), bool)]) > 0
    True
    """
    lps = frame_log_probs(model, pieces, batch_size=batch_size, device=device)
    total = sum(float(lp.sum()) for lp in lps)
    frames = sum(lp.shape[0] for lp in lps)
    return -total / frames
