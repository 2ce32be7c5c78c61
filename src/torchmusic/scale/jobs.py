"""Folder jobs: decoding in worker processes feeding one model batched across tracks.

The functions here join :func:`~torchmusic.scale.decode.decode_stream` (N worker
processes decode, resample and, on a CPU model, also compute the features) and
:mod:`~torchmusic.scale.batching` (the network runs in this process on batches of
windows from several tracks). Results come in input order and equal the
one-file-at-a-time functions' up to float rounding:

- :func:`iter_predictions` / :func:`predict_files`: as
  :func:`torchmusic.serve.predict.predict_paths`; :func:`predict_to_jsonl` writes a
  resumable JSON Lines file.
- :func:`iter_embeddings` / :func:`embed_files`: as
  :func:`torchmusic.embed.iter_embeddings` / :func:`~torchmusic.embed.embed_tracks`;
  :func:`embed_stream` is the ``stream`` argument of ``Catalog.add``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Iterator, Sequence, Sized
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm.auto import tqdm

from torchmusic.data.discover import AUDIO_EXTENSIONS, collect_inputs
from torchmusic.data.extract import FailedFile
from torchmusic.errors import ParameterError
from torchmusic.scale.batching import (
    WholeTrack,
    WindowMaker,
    embed_batched,
    has_windows,
    predict_batched,
)
from torchmusic.scale.decode import check_workers, decode_stream
from torchmusic.scale.jsonl import JsonlResults
from torchmusic.serve.predict import (
    PredictionReport,
    Predictor,
    TrackPrediction,
    _check_top_k,
    predict_paths,
)

if TYPE_CHECKING:  # imported where used: `predict` must not import the embedders
    from torchmusic.embed.base import Embedder
    from torchmusic.embed.tracks import EmbeddedFile, EmbedStream, TrackEmbeddings


def _check_batch_size(batch_size: int | None, default: int) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer or None")
    return batch_size


def _workers_for(files: Iterable[object], workers: int | None) -> int:
    """``workers``, but no more than the files (and none for one file: starting a
    process costs more than decoding one file in this one)."""
    workers = check_workers(workers)
    if isinstance(files, Sized):
        workers = 0 if len(files) <= 1 else min(workers, len(files))
    return workers


def _on_cpu(device: torch.device) -> bool:
    # Features are computed in the workers only for a CPU model: on a GPU they are
    # faster on the device, and the workers then send waveforms.
    return torch.device(device).type == "cpu"


def iter_predictions(
    files: Iterable[str | os.PathLike[str]],
    predictor: Predictor,
    *,
    workers: int | None = None,
    batch_size: int | None = None,
    top_k: int = 3,
    timeline: bool = False,
) -> Iterator[TrackPrediction | FailedFile]:
    """Predict files in order: decoding in worker processes, windows batched across tracks.

    Parameters
    ----------
    files : iterable of path
        Audio files (consumed lazily).
    predictor : Predictor
    workers : int, optional
        Decoding processes (default up to 4; 0: decode in this process).
    batch_size : int, optional
        Windows per forward pass (default: the predictor's ``batch_size``).
    top_k, timeline
        As in :meth:`Predictor.predict_file`.

    Yields
    ------
    TrackPrediction or FailedFile
        One per file, in input order (``name`` is the file name).

    Examples
    --------
    >>> for r in iter_predictions(["a.ogg", "b.ogg"], Predictor("drums"), workers=2):  # doctest: +SKIP
    ...     print(r.path.name, r.labels[0])
    a.ogg ('kick', 0.97)
    b.ogg ('snare', 0.91)
    """
    batch_size = _check_batch_size(batch_size, predictor.batch_size)
    prepare = WindowMaker.of(predictor) if _on_cpu(predictor.device) else None
    workers = _workers_for(files, workers)
    stream = decode_stream(files, sr=predictor.feature.sr, workers=workers, prepare=prepare)
    # The network keeps torch's threads (all cores): the workers sleep while the
    # look-ahead is full, so a job bound by the network gets the cores. Measured on 2
    # quiet cores (drums, 2 workers): 1.4-1.7x faster than leaving the network the one
    # core the workers do not use; on cores busy with other jobs, fewer threads win
    # (torch.set_num_threads before the job).
    yield from predict_batched(
        stream, predictor, batch_size=batch_size, top_k=top_k, timeline=timeline
    )


def predict_files(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    model: str | os.PathLike[str] | Predictor,
    device: str | torch.device = "cpu",
    hop_seconds: float | None = None,
    workers: int | None = None,
    batch_size: int | None = None,
    top_k: int = 3,
    timeline: bool = False,
    progress: bool = True,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
) -> PredictionReport:
    """:func:`~torchmusic.serve.predict.predict_paths` with worker processes and cross-track batches.

    Parameters are those of ``predict_paths`` plus ``workers`` (decoding processes,
    default up to 4) and ``batch_size`` (windows per forward pass).

    Returns
    -------
    PredictionReport

    Examples
    --------
    >>> report = predict_files(["music/"], model="drums", workers=2)  # doctest: +SKIP
    >>> len(report.predictions), len(report.failed)  # doctest: +SKIP
    (250, 1)
    """
    check_workers(workers)
    stream = functools.partial(iter_predictions, workers=workers, batch_size=batch_size)
    return predict_paths(
        paths,
        model=model,
        device=device,
        hop_seconds=hop_seconds,
        top_k=top_k,
        timeline=timeline,
        progress=progress,
        extensions=extensions,
        stream=stream,
    )


@dataclasses.dataclass
class JsonlReport:
    """Outcome of :func:`predict_to_jsonl`.

    Attributes
    ----------
    out : pathlib.Path
        The JSON Lines file.
    written : int
        Records written by this run.
    skipped : int
        Inputs already recorded by an earlier run (not redone).
    failed : list of FailedFile
        Inputs whose record is an error (this run's or an earlier one's) and inputs
        that do not exist.
    """

    out: Path
    written: int
    skipped: int
    failed: list[FailedFile]

    def summary(self) -> str:
        """One line: records written and skipped, failures."""
        return (
            f"wrote {self.written} record(s) to {self.out} ({self.skipped} already there), "
            f"{len(self.failed)} failed"
        )


def predict_to_jsonl(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    predictor: Predictor,
    restart: bool = False,
    workers: int | None = None,
    batch_size: int | None = None,
    top_k: int = 3,
    timeline: bool = False,
    progress: bool = True,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
) -> JsonlReport:
    """Predict files into a JSON Lines file, one record per file as it finishes; resumable.

    Records are :meth:`TrackPrediction.to_dict` (``path``, ``name``, ``duration``,
    ``labels``, ``segments``) or ``{"path": ..., "error": ...}``, in input order. A
    rerun with the same ``out`` skips the files already recorded (see
    :class:`~torchmusic.scale.jsonl.JsonlResults`), so a killed job continues where
    it stopped and ends with the records of an uninterrupted one.

    Parameters
    ----------
    paths : path or iterable of paths
        Audio files and folders (searched recursively for ``extensions``).
    out : str or os.PathLike
        The ``.jsonl`` file.
    predictor : Predictor
    restart : bool
        Empty ``out`` first and predict everything.
    workers, batch_size, top_k, timeline
        As in :func:`iter_predictions`.
    progress : bool
        Progress bar on stderr.
    extensions : sequence of str
        Extensions searched for in folders.

    Returns
    -------
    JsonlReport

    Examples
    --------
    >>> report = predict_to_jsonl(["music/"], "tags.jsonl", predictor=Predictor("drums"))  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    'wrote 250 record(s) to tags.jsonl (0 already there), 0 failed'
    """
    _check_top_k(top_k)
    inputs, missing = collect_inputs(paths, extensions=extensions)
    failed = [FailedFile(p, "no such file or folder") for p in missing]
    names = dict(inputs)
    written = 0
    with JsonlResults(out, restart=restart) as results:
        todo = [p for p, _ in inputs if str(p) not in results.done]
        skipped = len(inputs) - len(todo)
        failed += [
            FailedFile(p, results.errors[str(p)]) for p, _ in inputs if str(p) in results.errors
        ]
        bar = tqdm(total=len(todo), desc="predict", unit="file", disable=not progress)
        for outcome in iter_predictions(
            todo,
            predictor,
            workers=workers,
            batch_size=batch_size,
            top_k=top_k,
            timeline=timeline,
        ):
            if isinstance(outcome, FailedFile):
                results.write({"path": str(outcome.path), "error": outcome.error})
                failed.append(outcome)
            else:
                outcome.name = names.get(outcome.path, outcome.path.name)
                results.write(outcome.to_dict())
            written += 1
            bar.update(1)
        bar.close()
    return JsonlReport(out=Path(out), written=written, skipped=skipped, failed=failed)


def _embed_prepare(embedder: Embedder) -> WindowMaker | WholeTrack | None:
    if not _on_cpu(embedder.device):
        return None
    return WindowMaker.of(embedder) if has_windows(embedder) else WholeTrack(embedder)


def iter_embeddings(
    files: Iterable[str | os.PathLike[str]],
    embedder: Embedder,
    *,
    workers: int | None = None,
    batch_size: int | None = None,
) -> Iterator[EmbeddedFile]:
    """Embed files in order: decoding in worker processes, windows batched across tracks.

    The same contract as :func:`torchmusic.embed.iter_embeddings` (which decodes in
    threads and runs the network one file at a time).

    Parameters
    ----------
    files : iterable of path
        Audio files (consumed lazily).
    embedder : Embedder
    workers : int, optional
        Decoding processes (default up to 4; 0: decode in this process). On a CPU
        they also compute the features (for ``mfcc``: the whole embedding).
    batch_size : int, optional
        Windows per forward pass (default: the embedder's ``batch_size``, or 64).

    Yields
    ------
    EmbeddedFile
        ``vector`` ``(dim,)`` float32 or ``error``, in input order.

    Examples
    --------
    >>> emb = get_embedder("music-embed")  # doctest: +SKIP
    >>> [e.vector.shape for e in iter_embeddings(["a.ogg"], emb, workers=2)]  # doctest: +SKIP
    [(256,)]
    """
    batch_size = _check_batch_size(batch_size, int(getattr(embedder, "batch_size", 64)))
    workers = _workers_for(files, workers)
    stream = decode_stream(
        files, sr=embedder.feature.sr, workers=workers, prepare=_embed_prepare(embedder)
    )
    yield from embed_batched(stream, embedder, batch_size=batch_size)  # torch's threads


def embed_stream(*, workers: int | None = None, batch_size: int | None = None) -> EmbedStream:
    """The ``stream`` for ``Catalog.add`` / ``embed_tracks``: :func:`iter_embeddings` so set.

    Examples
    --------
    >>> catalog.add(["music/"], embedder="mfcc",
    ...             stream=embed_stream(workers=2, batch_size=64))  # doctest: +SKIP
    """
    check_workers(workers)
    _check_batch_size(batch_size, 64)
    return functools.partial(iter_embeddings, workers=workers, batch_size=batch_size)


def embed_files(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    model: str | os.PathLike[str] | Embedder,
    *,
    device: str | torch.device = "cpu",
    workers: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    hop_seconds: float | None = None,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
) -> tuple[TrackEmbeddings, list[FailedFile]]:
    """:func:`~torchmusic.embed.embed_tracks` with worker processes and cross-track batches.

    Parameters are those of ``embed_tracks``; ``workers`` are decoding processes
    and ``batch_size`` is windows per forward pass.

    Returns
    -------
    embeddings : TrackEmbeddings
    failures : list of FailedFile

    Examples
    --------
    >>> emb, failed = embed_files(["music/"], "music-embed", workers=2)  # doctest: +SKIP
    >>> emb.vectors.shape  # doctest: +SKIP
    (250, 256)
    """
    from torchmusic.embed.embedders import get_embedder
    from torchmusic.embed.tracks import embed_tracks

    embedder = get_embedder(model, device=device, hop_seconds=hop_seconds)
    return embed_tracks(
        paths,
        embedder,
        progress=progress,
        extensions=extensions,
        stream=embed_stream(workers=workers, batch_size=batch_size),
    )


__all__ = [
    "JsonlReport",
    "embed_files",
    "embed_stream",
    "iter_embeddings",
    "iter_predictions",
    "predict_files",
    "predict_to_jsonl",
]
