"""The callable classes a Ray Data ``map_batches`` runs: one model per actor, rows out.

Each actor loads its model once (``__init__``) and then turns batches of input rows
into result rows with an explicit Arrow schema (so an error-only block and a full
block write the same Parquet schema). Input rows hold either a ``path`` on a
filesystem every worker sees, or the file's ``bytes`` (``read_binary_files``);
bytes are staged in a temporary file and decoded by the very code the local path
runs (:func:`torchmusic.audio.load`, which reads paths only), so both give
identical results.

Nothing here imports Ray: these are plain classes Ray instantiates on its workers.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from torchmusic.data.discover import content_hash
from torchmusic.errors import TorchMusicError

logger = logging.getLogger("torchmusic.scale")


def _arrow():
    import pyarrow as pa

    return pa


def embedding_schema():
    """Arrow schema of an embeddings table (``imports.EMBEDDING_COLUMNS``)."""
    pa = _arrow()
    return pa.schema(
        [
            ("path", pa.string()),
            ("name", pa.string()),
            ("content_hash", pa.string()),
            ("size", pa.int64()),
            ("duration", pa.float64()),
            ("vector", pa.list_(pa.float32())),
            ("raw", pa.list_(pa.float32())),
            ("model", pa.string()),
            ("error", pa.string()),
        ]
    )


def prediction_schema():
    """Arrow schema of a predictions table: ``TrackPrediction.to_dict()`` + ``error``."""
    pa = _arrow()
    ranked = pa.list_(pa.struct([("label", pa.string()), ("probability", pa.float64())]))
    segment = pa.struct([("start", pa.float64()), ("end", pa.float64()), ("labels", ranked)])
    return pa.schema(
        [
            ("path", pa.string()),
            ("name", pa.string()),
            ("duration", pa.float64()),
            ("labels", ranked),
            ("segments", pa.list_(segment)),
            ("error", pa.string()),
        ]
    )


def _message(exc: BaseException) -> str:
    # The local path's wording (embed.tracks / serve.predict), so error rows match it.
    return str(exc) if isinstance(exc, TorchMusicError) else f"{type(exc).__name__}: {exc}"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return "" if value is None else str(value)


@contextmanager
def staged(batch: dict[str, np.ndarray]) -> Iterator[list[dict[str, Any]]]:
    """The batch's files, each ``{path, name, local, hash, size, error}``.

    ``local`` is the file to decode: ``path`` itself, or a temporary copy of the
    row's ``bytes`` (same suffix, so the decoder sees the same format); removed on exit.
    """
    paths = [_text(p) for p in batch["path"]]
    n = len(paths)
    names = [_text(x) for x in batch["name"]] if "name" in batch else [Path(p).name for p in paths]
    preset = [_text(x) for x in batch["error"]] if "error" in batch else [""] * n
    blobs = batch.get("bytes")
    with tempfile.TemporaryDirectory(prefix="torchmusic-ray-") as tmp:
        files = []
        for i, path in enumerate(paths):
            item: dict[str, Any] = {"path": path, "name": names[i] or Path(path).name}
            item.update(local=None, hash=None, size=None, error=preset[i] or None)
            if item["error"] is None:
                try:
                    if blobs is not None:
                        data = bytes(blobs[i])
                        local = Path(tmp) / f"{i}{Path(path).suffix}"
                        local.write_bytes(data)
                        item["hash"] = content_hash(local)  # the catalog's digest, by its code
                        item["size"] = len(data)
                    else:
                        local = Path(path)
                        item["hash"] = content_hash(local)
                        item["size"] = local.stat().st_size
                    item["local"] = local
                except (TorchMusicError, OSError) as exc:
                    item["error"] = _message(exc)
            files.append(item)
        yield files


def _fix_message(message: str, item: dict[str, Any]) -> str:
    """An error about a staged copy names the original file instead."""
    local = item.get("local")
    if local is not None and str(local) != item["path"]:
        message = message.replace(str(local), item["path"])
    return message


class EmbedActor:
    """Embeds files with one embedder per actor (``map_batches(EmbedActor, ...)``).

    Parameters
    ----------
    model : str, os.PathLike or Embedder
        As :func:`torchmusic.embed.get_embedder` takes it.
    device : str
        Where features and the network run on this actor.
    hop_seconds : float, optional
        Window hop of network embedders.

    Examples
    --------
    >>> actor = EmbedActor("mfcc")  # doctest: +SKIP
    >>> actor({"path": np.array(["a.ogg"]), "name": np.array(["a.ogg"])}).num_rows  # doctest: +SKIP
    1
    """

    def __init__(
        self, model: Any, *, device: str = "cpu", hop_seconds: float | None = None
    ) -> None:
        from torchmusic.embed.base import Embedder
        from torchmusic.embed.embedders import get_embedder

        if isinstance(model, Embedder):
            self.embedder = model
        else:
            self.embedder = get_embedder(model, device=device, hop_seconds=hop_seconds)
        self.model_json = json.dumps(self.embedder.info.to_dict(), sort_keys=True)

    def _row(self, item: dict[str, Any]) -> dict[str, Any]:
        row = self._error_row(item, item["error"])  # filled in below when it embeds
        if row["error"] is not None:
            return row
        emb = self.embedder
        try:
            # What iter_embeddings does for one file (decode, then embed), same errors kept.
            y = emb.load(item["local"])
            vector, raw = emb.embed_with_raw(y)
        except (TorchMusicError, OSError, MemoryError) as exc:
            row["error"] = _fix_message(_message(exc), item)
            return row
        row["duration"] = y.shape[-1] / emb.feature.sr
        row["vector"] = np.asarray(vector, np.float32).tolist()
        row["raw"] = None if raw is None else np.asarray(raw, np.float32).tolist()
        return row

    def __call__(self, batch: dict[str, np.ndarray]):
        rows = []
        with staged(batch) as files:
            for item in files:
                rows.append(_guarded(self._row, item, base=self._error_row))
        return _arrow().Table.from_pylist(rows, schema=embedding_schema())

    def _error_row(self, item: dict[str, Any], message: str | None) -> dict[str, Any]:
        return {
            "path": item["path"],
            "name": item["name"],
            "content_hash": item["hash"],
            "size": item["size"],
            "duration": 0.0,
            "vector": None,
            "raw": None,
            "model": self.model_json,
            "error": message,
        }


class PredictActor:
    """Labels files with one :class:`~torchmusic.serve.predict.Predictor` per actor.

    Parameters
    ----------
    model : str or os.PathLike
        Classifier model file or shipped model name.
    device : str
    hop_seconds : float, optional
    top_k : int
    timeline : bool
        As in :meth:`Predictor.predict_file`.

    Examples
    --------
    >>> actor = PredictActor("drums", top_k=2)  # doctest: +SKIP
    >>> actor({"path": np.array(["kick.wav"])}).to_pylist()[0]["labels"][0]  # doctest: +SKIP
    {'label': 'kick', 'probability': 0.97}
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str = "cpu",
        hop_seconds: float | None = None,
        top_k: int = 3,
        timeline: bool = False,
    ) -> None:
        from torchmusic.serve.predict import Predictor

        self.predictor = Predictor(model, device=device, hop_seconds=hop_seconds)
        self.top_k, self.timeline = top_k, timeline

    def _row(self, item: dict[str, Any]) -> dict[str, Any]:
        if item["error"] is not None:
            return self._error_row(item, item["error"])
        try:
            pred = self.predictor.predict_file(
                item["local"], top_k=self.top_k, timeline=self.timeline
            )
        # predict_paths' rule: reading/decoding errors are the file's, reported in a row.
        except (TorchMusicError, OSError, MemoryError) as exc:
            return self._error_row(item, _fix_message(_message(exc), item))
        pred.path, pred.name = Path(item["path"]), item["name"]
        return {**pred.to_dict(), "error": None}

    @staticmethod
    def _error_row(item: dict[str, Any], message: str) -> dict[str, Any]:
        return {
            "path": item["path"],
            "name": item["name"],
            "duration": 0.0,
            "labels": [],
            "segments": [],
            "error": message,
        }

    def __call__(self, batch: dict[str, np.ndarray]):
        rows = []
        with staged(batch) as files:
            for item in files:
                rows.append(_guarded(self._row, item, base=self._error_row))
        return _arrow().Table.from_pylist(rows, schema=prediction_schema())


def _guarded(make, item: dict[str, Any], *, base) -> dict[str, Any]:
    """``make(item)``; an unexpected exception becomes the file's error row.

    On a cluster a bug triggered by one odd file must not fail a job of hours and
    lose every other row: it is logged with its traceback and recorded as an error.
    """
    try:
        return make(item)
    except Exception as exc:
        logger.exception("unexpected error on %s", item["path"])
        return base(item, f"unexpected {type(exc).__name__}: {exc}")
