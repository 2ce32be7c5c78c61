"""One registry class for every kind of model: architecture name -> (config class, model class).

Classifiers, generators and embedders each keep one :class:`Registry` (in
``torchmusic.models.{classify,symbolic,embed}.registry``); a model file records the
architecture's name and its config, and loading builds ``model_cls(config)`` from
the registry. Architectures that live in modules of their own (optional
dependencies, or just to keep the registry free of the models' code) are
*plugins*: the module is imported on the first lookup of their name, and
registers them itself.

Torch-free: the model classes are checked against ``base`` (e.g. ``nn.Module``),
which the owner of the registry passes in.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from torchmusic.errors import DependencyError, ParameterError


def close_names(name: object, known: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the known names closest to ``name``, or ``""``."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""


class Registry:
    """Architecture name -> ``(ConfigClass, ModelClass)``, with lookup, config parsing and build.

    Parameters
    ----------
    kind : str
        What the models are, for messages (``"classifier"``, ``"generator"``).
    label : str
        How an architecture name is called in messages (``"architecture"``,
        ``"generator architecture"``).
    base : type, optional
        Every model class must subclass it (``torch.nn.Module``).
    base_name : str, optional
        How ``base`` is called in messages (default: its ``__name__``).
    required_fields : sequence of str
        Fields every config class must have (``n_mels``, ``n_frames``, ...).
    plugins : mapping of str to str
        Name -> module that registers it when imported.

    Attributes
    ----------
    entries : dict
        ``name -> (ConfigClass, ModelClass)``; the old module-level tables
        (``CLASSIFIERS``, ``GENERATORS``, ``EMBEDDERS``) are this very dict.

    Examples
    --------
    >>> reg = Registry("toy")
    >>> @dataclasses.dataclass
    ... class Config:
    ...     width: int = 2
    >>> class Toy:
    ...     def __init__(self, config):
    ...         self.config = config
    >>> reg.register("toy", Config, Toy)
    >>> reg.build("toy", width=3).config.width
    3
    >>> reg.get("tyo")
    Traceback (most recent call last):
    ...
    torchmusic.errors.ParameterError: unknown architecture 'tyo'; expected one of ['toy']; did you mean 'toy'?
    """

    def __init__(
        self,
        kind: str,
        *,
        label: str = "architecture",
        base: type | None = None,
        base_name: str | None = None,
        required_fields: Sequence[str] = (),
        plugins: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.label = label
        self.base = base or object
        self.base_name = base_name or self.base.__name__
        self.required_fields = tuple(required_fields)
        self.plugins = dict(plugins or {})
        self.entries: dict[str, tuple[type, type]] = {}

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"

    def __contains__(self, name: object) -> bool:
        return name in self.entries or name in self.plugins

    def names(self) -> list[str]:
        """Every name that :meth:`get` accepts (registered or plugin), sorted."""
        return sorted(set(self.entries) | set(self.plugins))

    def register(self, name: str, config_cls: type, model_cls: type) -> None:
        """Make ``name`` buildable and loadable from model files.

        Raises
        ------
        ParameterError
            ``name`` is taken by other classes, or the classes do not fit.
        """
        if not isinstance(name, str) or not name:
            raise ParameterError(f"{self.kind} name {name!r} must be a non-empty string")
        if not dataclasses.is_dataclass(config_cls) or not isinstance(config_cls, type):
            raise ParameterError(f"config_cls={config_cls!r} must be a dataclass type")
        fields = {f.name for f in dataclasses.fields(config_cls)}
        missing = set(self.required_fields) - fields
        if missing:
            raise ParameterError(f"config_cls {config_cls.__name__} lacks fields {sorted(missing)}")
        if not (isinstance(model_cls, type) and issubclass(model_cls, self.base)):
            raise ParameterError(f"model_cls={model_cls!r} must be an {self.base_name} subclass")
        existing = self.entries.get(name)
        if existing is not None and existing != (config_cls, model_cls):
            raise ParameterError(
                f"{self.kind} name {name!r} is already registered to {existing[1].__name__}"
            )
        self.entries[name] = (config_cls, model_cls)

    def get(self, name: str) -> tuple[type, type]:
        """``(ConfigClass, ModelClass)`` of ``name``, importing its plugin module if needed.

        Raises
        ------
        ParameterError
            Unknown name (the message lists the known ones and suggests close ones).
        DependencyError
            The plugin module failed to import (e.g. a missing optional package).
        """
        if name not in self.entries and name in self.plugins:
            try:
                importlib.import_module(self.plugins[name])
            except ImportError as exc:
                raise DependencyError(
                    f"{self.label} {name!r} needs module {self.plugins[name]}, which failed "
                    f"to import: {exc}"
                ) from exc
        if name not in self.entries:
            known = self.names()
            raise ParameterError(
                f"unknown {self.label} {name!r}; expected one of {known}{close_names(name, known)}"
            )
        return self.entries[name]

    def make_config(self, name: str, settings: Mapping[str, Any]) -> Any:
        """The config dataclass of ``name`` from a plain dict (e.g. read from JSON).

        Unknown keys are an error listing the valid ones, rather than silently
        ignored; invalid values raise the config's own :class:`ParameterError`.
        """
        config_cls, _ = self.get(name)
        if not isinstance(settings, Mapping):
            raise ParameterError(f"model config {settings!r} must be a dict")
        known = {f.name for f in dataclasses.fields(config_cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ParameterError(
                f"unknown setting(s) {unknown} for {self.label} {name!r}; "
                f"expected a subset of {sorted(known)}"
            )
        try:
            return config_cls(**settings)
        except TypeError as exc:  # a required field is missing
            raise ParameterError(f"settings for {self.label} {name!r}: {exc}") from exc

    def build(self, name: str, **settings: Any) -> Any:
        """``ModelClass(make_config(name, settings))``."""
        config = self.make_config(name, settings)
        return self.get(name)[1](config)

    def name_of(self, model: object) -> str:
        """Registered name of ``model``'s exact class (:class:`ParameterError` when unregistered)."""
        for name, (_, model_cls) in self.entries.items():
            if type(model) is model_cls:
                return name
        raise ParameterError(
            f"{type(model).__name__} is not a registered {self.kind}; register it with "
            f"register_{self.kind}(name, ConfigClass, ModelClass)"
        )
