"""One kind of torchmusic model file: :class:`ModelFormat` (save, read_spec, load).

Every model file is the shared container (:mod:`torchmusic.io.container`): tensors
plus a JSON *spec* (a dataclass with ``to_dict`` / ``from_dict``: architecture,
config, labels, feature settings, ...). A format is that container plus

- a name and version (``"torchmusic.classifier"``, 1),
- its spec dataclass and how to validate it (which returns the network's config),
- a :class:`~torchmusic.io.registry.Registry` of the architectures it holds,
- words for messages (what a file is, which command uses it and which writes it).

A new kind of model (vocoder, GAN, denoiser) needs only a spec dataclass, one
``ModelFormat(...)`` and its registrations::

    VOCODER = ModelFormat("torchmusic.vocoder", 1, VocoderSpec, "vocoder model file",
                          registry=VOCODERS, used_by="torchmusic vocode",
                          written_by="torchmusic train vocoder")
    VOCODER.save("v.safetensors", model, spec)
    model, spec = VOCODER.load("v.safetensors", device="cuda")

Formats whose models are not registered networks (recommenders: numpy arrays)
subclass it and override :meth:`ModelFormat.encode` / :meth:`ModelFormat.decode`.

Torch-free: torch is imported only when a network's weights are loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torchmusic.errors import DataError, ParameterError
from torchmusic.io.container import (
    FORMATS,
    _a,
    load_weights,
    read_container,
    spec_to_json,
    spec_with_model_config,
    write_container,
)
from torchmusic.io.registry import Registry

#: ``check(path, spec)``: a caller's extra condition on a file (e.g. the kind of generator).
SpecCheck = Callable[[Path, Any], None]


@dataclasses.dataclass(eq=False)
class ModelFormat:
    """One kind of model file.

    Parameters
    ----------
    name : str
        Recorded as the file's ``format`` (``"torchmusic.classifier"``).
    version : int
        Newest ``format_version`` this code writes and reads; bump it when the
        layout or the spec's meaning changes incompatibly.
    spec_cls : type
        The spec dataclass: ``to_dict()`` and ``from_dict(d)`` (see
        :func:`torchmusic.io.container.spec_from_dict`).
    what : str
        What a file is, for messages (``"classifier model file"``).
    registry : Registry, optional
        The architectures the files hold (``spec.architecture`` names one).
    validate : callable, optional
        ``validate(spec) -> model config``, raising :class:`ParameterError`; default:
        ``registry.make_config(spec.architecture, spec.model_config)``.
    shipped : bool
        Whether :meth:`load` and :meth:`read_spec` accept the names of models shipped
        with torchmusic (``"drums"``; see :func:`torchmusic.pretrained.resolve_model`).
    spec_key : str
        Metadata key of the spec (``"spec"``; recommender files use ``"meta"``).
    payload : str
        What the tensors are, for messages (``"weights"``, ``"arrays"``).
    description, used_by, written_by : str, optional
        For naming a file given to the wrong command (see
        :data:`torchmusic.io.container.FORMATS`); default: the built-in table's.
    """

    name: str
    version: int
    spec_cls: type
    what: str
    registry: Registry | None = None
    validate: Callable[[Any], Any] | None = None
    shipped: bool = False
    spec_key: str = "spec"
    payload: str = "weights"
    description: str | None = None
    used_by: str | None = None
    written_by: str | None = None

    def __post_init__(self) -> None:
        known = FORMATS.get(self.name, (None, None, None))
        self.description = self.description or known[0] or _a(self.what)
        self.used_by = self.used_by or known[1] or "torchmusic"
        self.written_by = self.written_by or known[2] or "torchmusic"
        FORMATS[self.name] = (self.description, self.used_by, self.written_by)

    def __repr__(self) -> str:
        return f"ModelFormat({self.name!r}, version={self.version})"

    # -- the parts a format may override ---------------------------------------------------
    def config_of(self, spec: Any) -> Any:
        """Validate ``spec`` (:class:`ParameterError`); returns what :meth:`decode` builds from."""
        if self.validate is not None:
            return self.validate(spec)
        if self.registry is None:
            return None
        return self.registry.make_config(spec.architecture, spec.model_config)

    def encode(self, model: Any, spec: Any) -> tuple[Mapping[str, Any], Any, dict[str, str]]:
        """``(tensors, checked spec, extra metadata)`` of ``model`` described by ``spec``.

        The default is for registered networks with ``.config``: ``spec.architecture``
        must name the model's class and ``spec.model_config`` is filled from it.
        """
        if not isinstance(spec, self.spec_cls):
            raise ParameterError(
                f"spec must be {_a(self.spec_cls.__name__)}, got {type(spec).__name__}"
            )
        if self.registry is not None:
            arch = self.registry.name_of(model)
            if arch != spec.architecture:
                raise ParameterError(
                    f"spec.architecture={spec.architecture!r} but the model is a {arch!r} "
                    f"{self.registry.kind}"
                )
            spec = spec_with_model_config(spec, model)
        self.config_of(spec)
        return model.state_dict(), spec, {}

    def decode(self, raw: bytes, spec: Any, config: Any, *, path: Path, device: Any) -> Any:
        """The model of a verified file: ``ModelClass(config)`` with the file's weights."""
        if self.registry is None:
            raise ParameterError(f"{self!r} has no registry to build its models from")
        _, model_cls = self.registry.get(spec.architecture)
        return load_weights(
            model_cls(config),
            raw,
            path=path,
            what=self.what,
            architecture=spec.architecture,
            device=device,
        )

    # -- the API -------------------------------------------------------------------------------
    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """The file for ``path``: a shipped model's name is resolved where the format ships any."""
        if self.shipped:
            from torchmusic.pretrained import resolve_model

            return resolve_model(path)
        return Path(path)

    def save(self, path: str | os.PathLike[str], model: Any, spec: Any = None) -> Path:
        """Write ``model`` and its ``spec`` to one model file, atomically.

        Parameters
        ----------
        path : str or os.PathLike
            Output file (conventionally ``*.safetensors``); parent folders are
            created. An existing file is replaced only once the new one is
            completely written and synced.
        model : object
            For the default :meth:`encode`: a registered network with ``.config``.
        spec : spec_cls instance
            Its description. ``spec.architecture`` must name the model's class;
            ``spec.model_config`` may be ``{}`` (filled from ``model.config``),
            otherwise it must equal ``dataclasses.asdict(model.config)``.

        Returns
        -------
        pathlib.Path
            The written file.

        Raises
        ------
        ParameterError
            The spec is invalid, not JSON-able, or does not describe ``model``.
        """
        tensors, spec, extra = self.encode(model, spec)
        return write_container(
            path,
            tensors,
            format_name=self.name,
            format_version=self.version,
            spec_json=spec_to_json(spec),
            spec_key=self.spec_key,
            extra_metadata=extra,
        )

    def read(self, path: str | os.PathLike[str]) -> tuple[Path, bytes, Any, Any]:
        """``(file, raw bytes, spec, config)`` of a model file, every check passed.

        Raises
        ------
        DataError
            Naming the file: missing, pickled, another kind of file, corrupt or
            truncated, a newer version, or an invalid spec.
        """
        p = self.resolve(path)
        raw, meta, _, _ = read_container(
            p,
            format_name=self.name,
            format_version=self.version,
            what=self.what,
            spec_key=self.spec_key,
            payload=self.payload,
        )
        try:
            spec = self.spec_cls.from_dict(json.loads(meta.get(self.spec_key, "")))
            config = self.config_of(spec)
        except json.JSONDecodeError as exc:
            raise DataError(f"{self.what} {p} has an unreadable {self.spec_key}: {exc}") from exc
        except ParameterError as exc:
            raise DataError(f"{self.what} {p}: {exc}") from exc
        return p, raw, spec, config

    def read_spec(self, path: str | os.PathLike[str], *, check: SpecCheck | None = None) -> Any:
        """The verified spec of a model file, without building the model."""
        p, _, spec, _ = self.read(path)
        if check is not None:
            check(p, spec)
        return spec

    def load(
        self, path: str | os.PathLike[str], *, device: Any = "cpu", check: SpecCheck | None = None
    ) -> tuple[Any, Any]:
        """``(model, spec)`` of a model file; never unpickles anything.

        Parameters
        ----------
        path : str or os.PathLike
            The file (or, for formats that ship models, a shipped model's name).
        device : str or torch.device
            Where the model is put (networks are returned in eval mode).
        check : callable, optional
            ``check(path, spec)`` raising :class:`DataError`, run before the model is built.
        """
        p, raw, spec, config = self.read(path)
        if check is not None:
            check(p, spec)
        return self.decode(raw, spec, config, path=p, device=device), spec


def read_model_metadata(path: str | os.PathLike[str]) -> tuple[bytes, dict[str, str], int]:
    """Raw bytes, verified metadata and tensor-data offset of any torchmusic model file.

    Raises
    ------
    DataError
        Missing, unreadable, pickled, not a torchmusic file, or corrupt.
    """
    raw, meta, _, start = read_container(
        path, format_name=None, format_version=None, what="model file"
    )
    return raw, meta, start


def fingerprint_of(meta: dict[str, str]) -> str:
    """Identity of a model file's weights + settings (hex), from its verified metadata."""
    text = f"{meta.get('format')}:{meta['payload_sha256']}:{meta['spec_sha256']}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def model_fingerprint(path: str | os.PathLike[str]) -> str:
    """Fingerprint of a torchmusic model file: same weights and spec, same value.

    A catalog records it, so that embeddings of different models are never mixed.

    Examples
    --------
    >>> model_fingerprint("embedder.safetensors")  # doctest: +SKIP
    '3f9a0c...'
    """
    return fingerprint_of(read_model_metadata(path)[1])
