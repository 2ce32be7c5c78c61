"""Recommender model files: one safetensors file, arrays + JSON metadata, never a pickle.

Layout: a standard safetensors file whose tensors are the training data the model
needs at recommendation time (plays as CSR arrays, tag assignments) under
``data.*`` and the fitted arrays under ``model.*``; its string metadata holds

- ``format`` = ``"torchmusic.recommender"``, ``format_version``, ``torchmusic_version``,
- ``kind`` (``"als"``, ``"bpr"``, ...), ``config`` (constructor arguments, JSON),
- ``index``: user ids, item ids and names, tag names (JSON),
- ``payload_sha256`` / ``meta_sha256``: digests that make a truncated or edited file
  fail loudly instead of recommending nonsense.

Writing, the safetensors checks and the refusal of pickled files are shared with
the model files (:mod:`torchmusic.models.container`).
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.base import Recommender
from torchmusic.recommend.data import ListeningData

FORMAT_NAME = "torchmusic.recommender"
#: Bumped when the layout or the meaning of a field changes incompatibly.
FORMAT_VERSION = 1

#: kind -> "module:Class"; imported on load so that e.g. ALS needs ``implicit`` only then.
RECOMMENDERS = {
    "popularity": "torchmusic.recommend.popularity:PopularityRecommender",
    "itemknn": "torchmusic.recommend.itemknn:ItemKNNRecommender",
    "als": "torchmusic.recommend.als:ALSRecommender",
    "bpr": "torchmusic.recommend.bpr:BPRRecommender",
    "content": "torchmusic.recommend.content:ContentRecommender",
    "hybrid": "torchmusic.recommend.hybrid:HybridRecommender",
}


def recommender_class(kind: str) -> type[Recommender]:
    """The class registered as ``kind`` (:class:`ParameterError` naming the known ones)."""
    target = RECOMMENDERS.get(kind)
    if target is None:
        raise ParameterError(
            f"unknown recommender {kind!r}; expected one of {sorted(RECOMMENDERS)}"
        )
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def _data_arrays(data: ListeningData) -> dict[str, np.ndarray]:
    plays = data.plays
    return {
        "data.plays.data": plays.data.astype(np.float32),
        "data.plays.indices": plays.indices.astype(np.int32),
        "data.plays.indptr": plays.indptr.astype(np.int64),
        "data.tag_assignments": data.tag_assignments.astype(np.int32),
    }


def _data_from(arrays: dict[str, np.ndarray], index: dict[str, Any]) -> ListeningData:
    import scipy.sparse as sp

    shape = (len(index["users"]), len(index["items"]))
    plays = sp.csr_matrix(
        (arrays["data.plays.data"], arrays["data.plays.indices"], arrays["data.plays.indptr"]),
        shape=shape,
    )
    return ListeningData(
        users=np.array(index["users"], dtype=str),
        items=np.array(index["items"], dtype=str),
        item_names=np.array(index["item_names"], dtype=str),
        plays=plays,
        tags=np.array(index["tags"], dtype=str),
        tag_assignments=arrays["data.tag_assignments"].astype(np.int64),
    )


def save_recommender(model: Recommender, path: str | os.PathLike[str]) -> Path:
    """Write a fitted recommender to ``path`` atomically (see the module docstring).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ParameterError
        The model is not fitted or not a registered kind.

    Examples
    --------
    >>> save_recommender(ALSRecommender().fit(train), "als.safetensors")  # doctest: +SKIP
    PosixPath('als.safetensors')
    """
    from torchmusic.io.container import _json, write_container

    if not isinstance(model, Recommender):
        raise ParameterError(f"model must be a Recommender, got {type(model).__name__}")
    if model.kind not in RECOMMENDERS:
        raise ParameterError(f"{type(model).__name__} has unregistered kind {model.kind!r}")
    data = model.data  # raises if not fitted
    arrays = _data_arrays(data)
    for name, value in model._state().items():
        arrays[f"model.{name}"] = np.ascontiguousarray(value)
    index = {
        "users": data.users.tolist(),
        "items": data.items.tolist(),
        "item_names": data.item_names.tolist(),
        "tags": data.tags.tolist(),
    }
    meta = {"kind": model.kind, "config": model.get_config(), "index": index}
    return write_container(
        path,
        arrays,
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        spec_json=_json(meta),
        spec_key="meta",
        extra_metadata={"kind": model.kind},
    )


def load_recommender(path: str | os.PathLike[str]) -> Recommender:
    """Load a recommender written by :meth:`Recommender.save`; never unpickles anything.

    Raises
    ------
    DataError
        Missing, truncated, corrupt, pickled or foreign file, or a newer format version.

    Examples
    --------
    >>> model = load_recommender("als.safetensors")  # doctest: +SKIP
    >>> model.recommend("2", k=3)  # doctest: +SKIP
    """
    from torchmusic.io.container import read_container

    p = Path(path)
    raw, meta, _, _ = read_container(
        p,
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        what="recommender file",
        spec_key="meta",
        payload="arrays",
    )
    meta_json = meta.get("meta", "")
    try:
        info = json.loads(meta_json)
        arrays = safetensors.numpy.load(raw)
        cls = recommender_class(info["kind"])
        model = cls(**info["config"])
        model.data_ = _data_from(arrays, info["index"])
        model._set_state(
            {k.removeprefix("model."): v for k, v in arrays.items() if k.startswith("model.")}
        )
    except (KeyError, TypeError, ValueError, safetensors.SafetensorError) as exc:
        raise DataError(f"recommender file {p} is malformed: {exc}") from exc
    return model
