"""The file container shared by every torchmusic model file: safetensors plus verified metadata.

Classifier, generator, embedding and recommender files (each a
:class:`torchmusic.io.modelformat.ModelFormat`: :mod:`torchmusic.models.modelfile`,
:mod:`torchmusic.models.symbolic.genfile`, :mod:`torchmusic.models.embed.embedfile`,
:mod:`torchmusic.recommend.io`) are all a standard safetensors file
(https://huggingface.co/docs/safetensors) whose string metadata holds

- ``format`` (``"torchmusic.classifier"``, ...) and ``format_version`` (an int as text),
- ``torchmusic_version`` that wrote it,
- the format's description as JSON under ``spec`` (``meta`` for recommenders), with
  its digest under ``spec_sha256`` (``meta_sha256``),
- ``payload_sha256``: the digest of the tensor bytes,
- anything else a format adds (recommenders record their ``kind``).

Why this shape: safetensors stores raw tensor bytes and a JSON header only, so
loading a file from an untrusted source never executes code, unlike pickle-based
``torch.save`` files, which are refused with a message saying why. The digests make
a truncated, corrupted or hand-edited file a :class:`DataError` instead of a model
that silently gives wrong answers. Each module here only checks the container; the
format decodes and validates its spec.

This module imports neither torch nor Lightning (nor anything of
:mod:`torchmusic.models`): recommender files are written from numpy arrays and read
without torch, and torch is imported only when torch tensors are written or loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from torchmusic.errors import DataError, ParameterError

# safetensors' own cap on the JSON header; larger values mean a corrupt length field.
_MAX_HEADER_BYTES = 100_000_000

#: Every torchmusic container format: what it is, the command that uses it and the one
#: that writes it, so that a file given to the wrong command is named for what it is.
#: The built-in formats are listed here, so that their files are named without
#: importing their (torch-using) modules; a new :class:`~torchmusic.io.modelformat.ModelFormat`
#: adds itself.
FORMATS: dict[str, tuple[str, str, str]] = {
    "torchmusic.classifier": (
        "an audio classifier model file",
        "torchmusic predict / torchmusic evaluate",
        "torchmusic train classify",
    ),
    "torchmusic.generator": (
        "a generator model file",
        "torchmusic generate",
        "torchmusic train lm",
    ),
    "torchmusic.embedder": (
        "an embedding model file",
        "torchmusic embed",
        "torchmusic train embed",
    ),
    "torchmusic.recommender": (
        "a recommender file",
        "torchmusic recommend",
        "torchmusic train recommend",
    ),
    "torchmusic.vocoder": (
        "a vocoder model file",
        "torchmusic vocode",
        "torchmusic train vocoder",
    ),
    "torchmusic.denoiser": (
        "a denoiser model file",
        "torchmusic denoise",
        "torchmusic train denoise",
    ),
    "torchmusic.gan": (
        "a GAN model file",
        "torchmusic synthesize",
        "torchmusic train gan",
    ),
}


def _json(value: Any) -> str:
    """Canonical JSON (sorted keys, no NaN) of ``value``; numpy/torch values become lists."""

    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):  # numpy / torch scalars and arrays
            return o.tolist()
        if isinstance(o, os.PathLike):
            return os.fspath(o)
        raise TypeError(f"{type(o).__name__} is not JSON-serialisable")

    return json.dumps(value, sort_keys=True, default=default, allow_nan=False)


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _split_safetensors(raw: bytes, path: Path) -> tuple[dict[str, Any], int]:
    """``(header, data_start)`` of safetensors bytes.

    The layout (8-byte little-endian header length, JSON header, tensor bytes) is
    read here only to reach the metadata and the payload for the checksum; the
    tensors themselves are decoded by the safetensors library.
    """
    if len(raw) < 8:
        raise DataError(f"model file {path} is truncated ({len(raw)} bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > _MAX_HEADER_BYTES or 8 + n > len(raw):
        raise DataError(
            f"model file {path} is not a safetensors file or is truncated (header of {n} bytes "
            f"in a file of {len(raw)} bytes)"
        )
    try:
        header = json.loads(raw[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"model file {path} has a corrupt safetensors header: {exc}") from exc
    if not isinstance(header, dict):
        raise DataError(f"model file {path} has a corrupt safetensors header")
    return header, 8 + n


def _refuse_pickle(raw: bytes, path: Path) -> None:
    # torch.save writes a zip archive (new format) or a bare pickle (legacy, protocol
    # >= 2 starts with 0x80). Both unpickle, i.e. can run code, so neither is read.
    # A safetensors header always starts with "{" after the 8-byte length (whose
    # first byte may well be 0x80), so that is checked first.
    if raw[8:9] == b"{":
        return
    if raw[:4] == b"PK\x03\x04" or raw[:1] == b"\x80":
        raise DataError(
            f"model file {path} is a pickled PyTorch file (torch.save); torchmusic only "
            "loads .safetensors model files, because unpickling can execute arbitrary code"
        )


# How a description key reads in messages.
_SPEC_NAMES = {"meta": "metadata"}


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def describe_format(fmt: object) -> str | None:
    """What a file of torchmusic format ``fmt`` is and which command uses it; None if unknown.

    Examples
    --------
    >>> describe_format("torchmusic.generator")
    "a generator model file (torchmusic.generator), used by 'torchmusic generate'"
    """
    if not isinstance(fmt, str) or fmt not in FORMATS:
        return None
    what, command, _ = FORMATS[fmt]
    return f"{what} ({fmt}), used by '{command}'"


def _serialise(tensors: Mapping[str, Any], metadata: dict[str, str] | None) -> bytes:
    # Recommenders hold numpy arrays and must not need torch; models hold tensors
    # (possibly bfloat16, which numpy lacks), so each goes through its own binding.
    if all(isinstance(v, np.ndarray) for v in tensors.values()):
        import safetensors.numpy

        return safetensors.numpy.save(dict(tensors), metadata=metadata)
    import safetensors.torch

    return safetensors.torch.save(dict(tensors), metadata=metadata)


def _owned(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    # Clones: safetensors refuses tensors that share memory, and tied or viewed
    # weights (token embedding = output layer) do; loading re-ties them via the module.
    return value.detach().to("cpu").contiguous().clone()


def write_container(
    path: str | os.PathLike[str],
    tensors: Mapping[str, Any],
    *,
    format_name: str,
    format_version: int,
    spec_json: str,
    spec_key: str = "spec",
    extra_metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``tensors`` and a format's JSON description to ``path``, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; parent folders are created. An existing file is replaced only
        once the new one is completely written and synced.
    tensors : mapping of str to torch.Tensor or numpy.ndarray
        The payload (all torch tensors or all numpy arrays); copied, so tied or
        strided tensors are fine.
    format_name, format_version : str, int
        Recorded as ``format`` / ``format_version``.
    spec_json : str
        The format's description, stored under ``spec_key`` with its digest under
        ``f"{spec_key}_sha256"``.
    spec_key : str
        Metadata key of the description (``"spec"``; recommenders use ``"meta"``).
    extra_metadata : mapping of str to str, optional
        More string metadata (e.g. a recommender's ``kind``).

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> write_container("m.safetensors", {"w": torch.ones(2)}, format_name="torchmusic.x",
    ...                 format_version=1, spec_json="{}")  # doctest: +SKIP
    PosixPath('m.safetensors')
    """
    from torchmusic import __version__

    out = Path(path)
    owned = {k: _owned(v) for k, v in tensors.items()}
    # The payload (tensor bytes) does not depend on the metadata, so its digest can be
    # taken from a metadata-free serialisation and then stored in the final one.
    _, start = _split_safetensors(bare := _serialise(owned, None), out)
    metadata = {
        "format": format_name,
        "format_version": str(format_version),
        "torchmusic_version": __version__,
        **dict(extra_metadata or {}),
        spec_key: spec_json,
        f"{spec_key}_sha256": _sha256(spec_json.encode()),
        "payload_sha256": _sha256(memoryview(bare)[start:]),
    }
    blob = _serialise(owned, metadata)
    _, start = _split_safetensors(blob, out)
    assert _sha256(memoryview(blob)[start:]) == metadata["payload_sha256"]

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)  # atomic: readers see the old file or the new one, never half
    finally:
        tmp.unlink(missing_ok=True)
    return out


def read_container(
    path: str | os.PathLike[str],
    *,
    format_name: str | None,
    format_version: int | None,
    what: str,
    spec_key: str = "spec",
    payload: str = "weights",
) -> tuple[bytes, dict[str, str], dict[str, Any], int]:
    """Read and verify a container written by :func:`write_container`; never unpickles.

    Checks, in order: readable, not a pickle, a safetensors header, the format (named
    for what it is when it belongs to another torchmusic command), the version, and
    the payload and description digests. The caller decodes the description.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    format_name : str or None
        Required ``format``; None accepts any torchmusic format.
    format_version : int or None
        Newest version this code reads; None skips the check.
    what : str
        The kind of file for messages (``"classifier model file"``).
    spec_key : str
        Metadata key of the description (see :func:`write_container`).
    payload : str
        What the tensors are, for messages (``"weights"``, ``"arrays"``).

    Returns
    -------
    raw : bytes
        The whole file, for ``safetensors.*.load``.
    metadata : dict of str to str
        The verified string metadata.
    header : dict
        The parsed safetensors header.
    start : int
        Offset of the tensor bytes in ``raw``.

    Raises
    ------
    DataError
        Naming the file and what is wrong with it.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {what} {p}: {exc.strerror or exc}") from exc
    _refuse_pickle(raw, p)
    header, start = _split_safetensors(raw, p)
    meta = header.get("__metadata__")
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if format_name is None:
        if not isinstance(fmt, str) or not fmt.startswith("torchmusic."):
            raise DataError(f"{p} is not a torchmusic {what} (no torchmusic 'format' metadata)")
    elif fmt != format_name:
        other = describe_format(fmt)
        if other is not None:
            writer = f" as written by '{FORMATS[format_name][2]}'" if format_name in FORMATS else ""
            raise DataError(f"{p} is {other}, not {_a(what)} ({format_name}){writer}")
        if isinstance(fmt, str) and fmt.startswith("torchmusic."):  # a newer or unknown kind
            raise DataError(f"{p} is a {fmt!r} file, not a torchmusic {what} ({format_name!r})")
        raise DataError(
            f"{p} is a safetensors file but not a torchmusic model file (no torchmusic "
            f"'format' metadata), so not a torchmusic {what} ('{format_name}')"
        )
    assert isinstance(meta, dict)
    version = str(meta.get("format_version", ""))
    if format_version is not None and (not version.isdigit() or int(version) > format_version):
        raise DataError(
            f"{what} {p} has format version {version!r}; this torchmusic reads versions "
            f"<= {format_version} (written by torchmusic {meta.get('torchmusic_version', '?')}: "
            "upgrade torchmusic)"
        )
    if _sha256(memoryview(raw)[start:]) != meta.get("payload_sha256"):
        raise DataError(
            f"{what} {p} is corrupt or truncated: the checksum of its {payload} does not "
            "match the one recorded when it was saved"
        )
    if _sha256(str(meta.get(spec_key, "")).encode()) != meta.get(f"{spec_key}_sha256"):
        raise DataError(
            f"{what} {p} is corrupt: the checksum of its {_SPEC_NAMES.get(spec_key, spec_key)} "
            "does not match the one "
            "recorded when it was saved"
        )
    return raw, meta, header, start


def spec_with_model_config(spec: Any, model: Any) -> Any:
    """``spec`` (a dataclass) with ``model_config`` set to ``model.config`` as plain JSON.

    A non-empty ``spec.model_config`` must already equal it (:class:`ParameterError`
    otherwise), so a file never describes a network other than the one it holds.
    """
    import dataclasses

    model_config = json.loads(_json(dataclasses.asdict(model.config)))
    if spec.model_config and json.loads(_json(spec.model_config)) != model_config:
        raise ParameterError(
            f"spec.model_config={spec.model_config!r} differs from the model's config "
            f"{model_config!r}; leave it empty to take the model's"
        )
    return dataclasses.replace(spec, model_config=model_config)


def spec_to_json(spec: Any) -> str:
    """:func:`_json` of ``spec.to_dict()``; :class:`ParameterError` if it is not JSON-able."""
    try:
        return _json(spec.to_dict())
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"spec is not JSON-serialisable: {exc}") from exc


def load_weights(
    model: Any, raw: bytes, *, path: Path, what: str, architecture: str, device: Any = "cpu"
) -> Any:
    """Load the tensors of a verified container into ``model``; returns it on ``device``, in eval.

    Raises
    ------
    DataError
        The tensor data is corrupt or does not fit ``model`` (missing/unexpected keys,
        wrong shapes), naming ``path``.
    ParameterError
        ``device`` is not usable.
    """
    import safetensors
    import safetensors.torch

    try:
        tensors = safetensors.torch.load(raw)
    except safetensors.SafetensorError as exc:
        raise DataError(f"{what} {path} has corrupt tensor data: {exc}") from exc
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:  # missing / unexpected keys, wrong shapes
        raise DataError(
            f"{what} {path}: its weights do not fit a {architecture!r} model with its config: {exc}"
        ) from exc
    try:
        model = model.to(device)
    # torch raises RuntimeError for a bad device string and AssertionError for CUDA
    # on a CPU-only build.
    except (RuntimeError, AssertionError) as exc:
        raise ParameterError(f"device={device!r} is not usable: {exc}") from exc
    return model.eval()


def spec_from_dict(cls: type, data: Any) -> Any:
    """``cls(**data)`` for a spec dataclass; unknown or missing keys are a :class:`ParameterError`.

    The message lists both and the expected keys, so a hand-edited spec is easy to fix.
    """
    import dataclasses

    if not isinstance(data, dict):
        raise ParameterError(f"spec must be a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    required = [
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [n for n in required if n not in data]
    if unknown or missing:
        raise ParameterError(
            f"spec has unknown keys {unknown} / lacks keys {missing}; expected {sorted(fields)}"
        )
    return cls(**data)
