"""Recommender model files: one safetensors file, arrays + JSON metadata, never a pickle.

Layout: a standard safetensors file whose tensors are the training data the model
needs at recommendation time (plays as CSR arrays, tag assignments) under
``data.*`` and the fitted arrays under ``model.*``; its string metadata holds

- ``format`` = ``"torchmusic.recommender"``, ``format_version``, ``torchmusic_version``,
- ``kind`` (``"als"``, ``"bpr"``, ...),
- ``meta``: a :class:`RecommenderSpec` as JSON: the kind, ``config`` (constructor
  arguments) and ``index`` (user ids, item ids and names, tag names),
- ``payload_sha256`` / ``meta_sha256``: digests that make a truncated or edited file
  fail loudly instead of recommending nonsense.

The format is :data:`RECOMMENDER_FORMAT`, a :class:`torchmusic.io.modelformat.ModelFormat`
whose models are numpy arrays rather than networks: writing, the safetensors checks
and the refusal of pickled files are shared with the model files, and none of it
imports torch.

This module does not import :mod:`torchmusic.recommend.base` (whose ``save`` calls
it): a recommender is recognised by its registered ``kind``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from torchmusic.errors import DataError, ParameterError
from torchmusic.io.container import spec_from_dict
from torchmusic.io.modelformat import ModelFormat
from torchmusic.io.registry import close_names
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


def recommender_class(kind: str) -> type:
    """The :class:`~torchmusic.recommend.base.Recommender` class registered as ``kind``.

    Raises
    ------
    ParameterError
        Unknown kind (the message names the known ones and suggests close ones).
    """
    target = RECOMMENDERS.get(kind)
    if target is None:
        known = sorted(RECOMMENDERS)
        raise ParameterError(
            f"unknown recommender {kind!r}; expected one of {known}{close_names(kind, known)}"
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


@dataclasses.dataclass
class RecommenderSpec:
    """What a recommender file records besides its arrays (metadata key ``meta``).

    Attributes
    ----------
    kind : str
        Registered kind (``"als"``, ...): which class to rebuild.
    config : dict
        The constructor's keyword arguments (``model.get_config()``).
    index : dict
        ``users``, ``items``, ``item_names`` and ``tags`` of the training data.
    """

    kind: str
    config: dict[str, Any]
    index: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecommenderSpec:
        """Inverse of :meth:`to_dict`; unknown or missing keys are a :class:`ParameterError`."""
        return spec_from_dict(cls, data)


class RecommenderFormat(ModelFormat):
    """Recommender files: the fitted arrays and the training data, as numpy arrays."""

    def config_of(self, spec: RecommenderSpec) -> type:
        """The recommender class of ``spec.kind`` (:class:`ParameterError` if unknown)."""
        if not isinstance(spec.config, dict) or not isinstance(spec.index, dict):
            raise ParameterError("config and index must be JSON objects")
        return recommender_class(spec.kind)

    def encode(self, model: Any, spec: Any = None) -> tuple[dict, RecommenderSpec, dict]:
        """Arrays, spec and ``kind`` metadata of a fitted recommender (``spec`` is derived)."""
        kind = getattr(model, "kind", None)
        if not isinstance(kind, str) or not hasattr(model, "_state"):
            raise ParameterError(f"model must be a Recommender, got {type(model).__name__}")
        if kind not in RECOMMENDERS:
            raise ParameterError(f"{type(model).__name__} has unregistered kind {kind!r}")
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
        return arrays, RecommenderSpec(kind, model.get_config(), index), {"kind": kind}

    def decode(self, raw: bytes, spec: RecommenderSpec, cls: Any, *, path: Path, device: Any):
        """The fitted recommender: ``cls(**config)`` with its data and arrays."""
        try:
            arrays = safetensors.numpy.load(raw)
            model = cls(**spec.config)
            model.data_ = _data_from(arrays, spec.index)
            model._set_state(
                {k.removeprefix("model."): v for k, v in arrays.items() if k.startswith("model.")}
            )
        except (KeyError, TypeError, ValueError, safetensors.SafetensorError) as exc:
            raise DataError(f"recommender file {path} is malformed: {exc}") from exc
        return model


#: The recommender file format.
RECOMMENDER_FORMAT = RecommenderFormat(
    FORMAT_NAME,
    FORMAT_VERSION,
    RecommenderSpec,
    "recommender file",
    spec_key="meta",
    payload="arrays",
)


def save_recommender(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted recommender to ``path`` atomically (see the module docstring).

    The argument order is the long-standing one; ``RECOMMENDER_FORMAT.save(path,
    model)`` is the same with the order of every other model file.

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
    return RECOMMENDER_FORMAT.save(path, model)


def load_recommender(path: str | os.PathLike[str]) -> Any:
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
    return RECOMMENDER_FORMAT.load(path)[0]
