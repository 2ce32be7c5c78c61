"""Cross-track batching: clip windows of several tracks in one forward pass.

A folder of short tracks run one file at a time gives the network small,
ragged batches (a 20 s track at 3 s clips is 7 windows). Here windows of
consecutive tracks are packed into batches of ``batch_size`` windows, run once, and
the outputs are split back per track, in input order. Each window's output does not
depend on its batch mates (the models are in eval mode), so a track's result equals
the one-file-at-a-time result up to float rounding.

- :class:`WindowMaker`: the features + windows of one waveform, exactly as
  :meth:`~torchmusic.serve.predict.Predictor.window_features` and the network
  embedders cut them; picklable, so it runs in the decode workers.
- :func:`cross_track_batches`: the generic packer.
- :func:`predict_batched` / :func:`embed_batched`: a classifier's track
  predictions and an embedder's track vectors from a stream of decoded files.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from torchmusic.data.extract import FailedFile
from torchmusic.data.windows import feature_windows
from torchmusic.errors import ParameterError, TorchMusicError
from torchmusic.features.config import FeatureConfig
from torchmusic.scale.decode import Decoded

if TYPE_CHECKING:  # `predict` must not import the embedders, nor `embed` the classifiers
    from torchmusic.embed.base import Embedder
    from torchmusic.embed.tracks import EmbeddedFile
    from torchmusic.serve.predict import Predictor, TrackPrediction

K = TypeVar("K")


@dataclasses.dataclass
class TrackWindows:
    """Feature windows of one track (what :class:`WindowMaker` returns).

    Attributes
    ----------
    windows : np.ndarray [shape=(n_windows, n_bins, n_frames)], float32
    starts : list of int
        Start sample of each window.
    """

    windows: np.ndarray
    starts: list[int]


@dataclasses.dataclass(frozen=True)
class WindowMaker:
    """Features of a mono waveform cut into a clip model's windows (picklable).

    Parameters
    ----------
    feature : FeatureConfig
        The model's features (the waveform is at ``feature.sr``).
    clip_n, hop_n : int
        Window length and hop in samples.
    n_frames : int
        Frames per window.

    Examples
    --------
    >>> maker = WindowMaker.of(Predictor("drums"))  # doctest: +SKIP
    >>> maker(torch.zeros(22050 * 5)).windows.shape  # doctest: +SKIP
    (5, 96, 87)
    """

    feature: FeatureConfig
    clip_n: int
    hop_n: int
    n_frames: int

    @classmethod
    def of(cls, model: Predictor | Embedder) -> WindowMaker:
        """The windows a :class:`Predictor` or a network embedder cuts (ParameterError if none)."""
        if not has_windows(model):
            raise ParameterError(f"{model!r} does not cut clip windows")
        sr = model.feature.sr
        clip_s = float(model.clip_seconds)
        hop_s = clip_s if model.hop_seconds is None else float(model.hop_seconds)
        # Rounded as Predictor._setup and embed.windows.clip_windows round them (a
        # Predictor's hop is never under one sample, so max() changes nothing there).
        clip_n, hop_n = round(clip_s * sr), max(1, round(hop_s * sr))
        return cls(model.feature, int(clip_n), int(hop_n), int(model.n_frames))

    def __call__(self, y: torch.Tensor) -> TrackWindows:
        windows, starts = feature_windows(
            y, feature=self.feature, clip_n=self.clip_n, hop_n=self.hop_n, n_frames=self.n_frames
        )
        return TrackWindows(np.ascontiguousarray(windows.cpu().numpy()), starts)


def has_windows(model: Predictor | Embedder) -> bool:
    """True for a Predictor and the network embedders (clip windows through a network),
    False for ``mfcc``."""
    return all(hasattr(model, a) for a in ("clip_seconds", "hop_seconds", "n_frames"))


@dataclasses.dataclass
class _Pending:
    key: Any
    windows: torch.Tensor | None
    taken: int = 0
    outputs: list[torch.Tensor] = dataclasses.field(default_factory=list)

    @property
    def left(self) -> int:
        return 0 if self.windows is None else self.windows.shape[0] - self.taken


def cross_track_batches(
    tracks: Iterable[tuple[K, torch.Tensor | None]],
    run: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int,
) -> Iterator[tuple[K, torch.Tensor | None]]:
    """Run the windows of consecutive tracks through ``run`` in shared batches.

    Parameters
    ----------
    tracks : iterable of (key, windows or None)
        ``windows`` ``(n_windows, ...)`` per track; None (a failed track) passes
        through. Consumed lazily: at most about ``batch_size`` windows plus one track
        wait in memory.
    run : callable
        ``(n, ...) -> (n, ...)``: the network on one batch.
    batch_size : int
        Windows per call of ``run`` (the last call of the stream may have fewer).

    Yields
    ------
    (key, outputs or None)
        In input order; ``outputs`` ``(n_windows, ...)`` is the track's windows' rows.

    Examples
    --------
    >>> tracks = [("a", torch.ones(3, 2)), ("b", None), ("c", torch.ones(2, 2))]
    >>> out = cross_track_batches(tracks, lambda w: w.sum(1, keepdim=True), batch_size=4)
    >>> [(k, None if o is None else o.shape[0]) for k, o in out]
    [('a', 3), ('b', None), ('c', 2)]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
    pending: deque[_Pending] = deque()
    buffered = 0

    def one_batch(size: int) -> None:
        parts: list[tuple[_Pending, int]] = []
        need = size
        for item in pending:
            if need == 0:
                break
            k = min(item.left, need)
            if k:
                parts.append((item, k))
                need -= k
        batch = torch.cat([it.windows[it.taken : it.taken + k] for it, k in parts])
        out = run(batch)
        at = 0
        for it, k in parts:
            it.outputs.append(out[at : at + k])
            it.taken += k
            at += k

    def finished() -> Iterator[tuple[K, torch.Tensor | None]]:
        while pending and pending[0].left == 0:
            item = pending.popleft()
            if item.windows is None:
                yield item.key, None
            else:
                outs = item.outputs
                yield item.key, (outs[0] if len(outs) == 1 else torch.cat(outs))

    for key, windows in tracks:
        pending.append(_Pending(key, windows))
        buffered += pending[-1].left
        while buffered >= batch_size:
            one_batch(batch_size)
            buffered -= batch_size
        yield from finished()
    while buffered:
        size = min(batch_size, buffered)
        one_batch(size)
        buffered -= size
    yield from finished()


def _as_windows(d: Decoded, make: WindowMaker, device: torch.device) -> TrackWindows:
    """``d``'s windows: made in the worker already, or here (on ``device``) from the waveform."""
    if isinstance(d.value, TrackWindows):
        return d.value
    y = torch.from_numpy(np.asarray(d.value))
    windows, starts = feature_windows(
        y,
        feature=make.feature,
        clip_n=make.clip_n,
        hop_n=make.hop_n,
        n_frames=make.n_frames,
        device=device,
    )
    return TrackWindows(windows, starts)  # type: ignore[arg-type]  # a tensor is fine here


def _windows_or_error(d: Decoded, make: WindowMaker, device: torch.device) -> TrackWindows | None:
    """``d``'s windows, or None with ``d.error`` set (as the per-file path reports them)."""
    if not d.ok:
        return None
    try:
        return _as_windows(d, make, device)
    # Features too large for memory, or rejected by the feature code: this file's
    # failure only, as in the one-file-at-a-time path.
    except (TorchMusicError, MemoryError) as exc:
        d.error = str(exc) if isinstance(exc, TorchMusicError) else f"{type(exc).__name__}: {exc}"
        return None


def _tensor(w: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(w) if isinstance(w, np.ndarray) else w


def predict_batched(
    decoded: Iterable[Decoded],
    predictor: Predictor,
    *,
    batch_size: int = 64,
    top_k: int = 3,
    timeline: bool = False,
) -> Iterator[TrackPrediction | FailedFile]:
    """Track predictions of decoded files, windows batched across tracks.

    Parameters
    ----------
    decoded : iterable of Decoded
        From :func:`~torchmusic.scale.decode.decode_stream` at ``predictor.feature.sr``,
        with waveforms or :class:`TrackWindows` (``prepare=WindowMaker.of(predictor)``).
    predictor : Predictor
    batch_size : int
        Windows per forward pass.
    top_k, timeline
        As in :meth:`Predictor.predict_file`.

    Yields
    ------
    TrackPrediction or FailedFile
        In input order; equal to :meth:`Predictor.predict_file` of each file up to
        float rounding.

    Examples
    --------
    >>> stream = decode_stream(paths, sr=p.feature.sr, prepare=WindowMaker.of(p))  # doctest: +SKIP
    >>> [t.labels[0] for t in predict_batched(stream, p)]  # doctest: +SKIP
    [('kick', 0.97), ('snare', 0.88)]
    """
    make = WindowMaker.of(predictor)
    sr = predictor.feature.sr
    meta: dict[int, tuple[Decoded, list[int]]] = {}

    def tracks() -> Iterator[tuple[int, torch.Tensor | None]]:
        for i, d in enumerate(decoded):
            w = _windows_or_error(d, make, predictor.device)
            meta[i] = (d, [] if w is None else w.starts)
            yield i, None if w is None else _tensor(w.windows)

    for i, probs in cross_track_batches(tracks(), predictor.predict_windows, batch_size=batch_size):
        d, starts = meta.pop(i)
        if probs is None:
            yield FailedFile(d.path, d.error or "unknown error")
            continue
        spans = [(s / sr, min(s + make.clip_n, d.n_samples) / sr) for s in starts]
        yield predictor.track_prediction(
            probs, spans, n_samples=d.n_samples, top_k=top_k, timeline=timeline, path=d.path
        )


@dataclasses.dataclass(frozen=True)
class WholeTrack:
    """Runs an embedder without windows (``mfcc``) on the waveform, in the worker (picklable).

    Returns ``(vector, raw)`` as :meth:`Embedder.embed_with_raw`.
    """

    embedder: Embedder

    def __call__(self, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        return self.embedder.embed_with_raw(y)


def embed_batched(
    decoded: Iterable[Decoded],
    embedder: Embedder,
    *,
    batch_size: int = 64,
) -> Iterator[EmbeddedFile]:
    """Track embeddings of decoded files; a network's windows are batched across tracks.

    Parameters
    ----------
    decoded : iterable of Decoded
        At ``embedder.feature.sr``: waveforms, :class:`TrackWindows`
        (``prepare=WindowMaker.of(embedder)``) or, for ``mfcc``, ``(vector, raw)``
        pairs (``prepare=WholeTrack(embedder)``).
    embedder : Embedder
    batch_size : int
        Windows per forward pass (network embedders).

    Yields
    ------
    EmbeddedFile
        In input order, as :func:`torchmusic.embed.iter_embeddings` gives them; the
        vectors equal its vectors up to float rounding.

    Examples
    --------
    >>> stream = decode_stream(paths, sr=emb.feature.sr, prepare=WindowMaker.of(emb))  # doctest: +SKIP
    >>> next(embed_batched(stream, emb)).vector.shape  # doctest: +SKIP
    (256,)
    """
    from torchmusic.embed.base import unit
    from torchmusic.embed.tracks import EmbeddedFile

    sr = embedder.feature.sr
    if not has_windows(embedder):
        for d in decoded:
            if not d.ok:
                yield EmbeddedFile(d.path, None, error=d.error)
                continue
            if isinstance(d.value, tuple):
                vector, raw = d.value
            else:
                try:
                    vector, raw = embedder.embed_with_raw(torch.from_numpy(np.asarray(d.value)))
                except (TorchMusicError, MemoryError) as exc:  # as iter_embeddings reports them
                    msg = str(exc) if isinstance(exc, TorchMusicError) else repr(exc)
                    yield EmbeddedFile(d.path, None, error=msg)
                    continue
            yield EmbeddedFile(d.path, vector, duration=d.n_samples / sr, raw=raw)
        return

    make = WindowMaker.of(embedder)
    meta: dict[int, Decoded] = {}

    def tracks() -> Iterator[tuple[int, torch.Tensor | None]]:
        for i, d in enumerate(decoded):
            w = _windows_or_error(d, make, embedder.device)
            meta[i] = d
            yield i, None if w is None else _tensor(w.windows)

    def run(windows: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return F.normalize(embedder.embed_windows(windows)).float().cpu()

    for i, clips in cross_track_batches(tracks(), run, batch_size=batch_size):
        d = meta.pop(i)
        if clips is None:
            yield EmbeddedFile(Path(d.path), None, error=d.error or "unknown error")
        else:
            yield EmbeddedFile(d.path, unit(clips.mean(dim=0)), duration=d.n_samples / sr)
