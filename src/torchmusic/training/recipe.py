"""Training recipes: one settings base that every trainer's settings derive from.

A recipe is a dataclass filled from, in order (later wins): its defaults, a YAML
file (``--config X.yaml``), explicit keyword arguments (the CLI's named flags),
then ``--key value`` overrides. Dotted keys reach into dict-valued settings
(``--augment.mixup 0.2``, ``--model_config.n_layer 4``). Values are parsed as
YAML scalars (``0.2``, ``true``, ``null``, ``[0, 1]``) and checked against the
field's annotation; an unknown key is an error that suggests the closest one.
Settings renamed since an earlier release still load, with a warning.

:class:`RunRecipe` adds the vocabulary every trainer shares (``batch_size``,
``max_epochs``, ``lr``, ``scheduler``, ``seed``, ``out_dir``, ``devices``,
``num_nodes``, ``precision``, ...); :mod:`torchmusic.training.engine` reads those
to build the Lightning Trainer, so a new trainer only declares its own fields.

This module imports neither torch nor Lightning: building and checking a recipe
is instant (the CLI validates arguments before loading anything heavy).

Examples
--------
>>> import dataclasses
>>> @dataclasses.dataclass
... class MyRecipe(RunRecipe):
...     data: str | None = None
...     width: int = 64
...     PATH_FIELDS = ("data", "out_dir")
>>> MyRecipe.from_sources(width=32, overrides=["--lr", "3e-4"]).lr
0.0003
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import re
import types
import typing
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from torchmusic.errors import DataError, ParameterError

R = TypeVar("R", bound="Recipe")


@dataclasses.dataclass
class Recipe:
    """Base of every settings dataclass: YAML + overrides, type checks, atomic saving.

    Subclasses declare dataclass fields (each with a default) and may set these
    class attributes:

    ``PATH_FIELDS``
        Fields holding file paths (a string, a list of strings, or a dict of
        strings): relative paths in a recipe file resolve against its folder.
    ``IDENTITY_KEYS``
        Settings that define what a run learns; resuming a run with other values
        is refused (:meth:`identity`).
    ``RENAMED``
        ``{old name: new name}`` of settings renamed in a later release: old
        recipes keep loading, with a :class:`FutureWarning`.
    ``SUBKEYS``
        ``{dict field: allowed keys}`` for dict fields whose keys are fixed.
    """

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ()
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = ()
    RENAMED: ClassVar[dict[str, str]] = {}
    SUBKEYS: ClassVar[dict[str, Mapping[str, Any]]] = {}
    #: What one key of a ``SUBKEYS`` field is called in messages (default "<field> key").
    SUBKEY_NOUNS: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        # Direct construction gets the same type checks and normalisation as YAML.
        for field in dataclasses.fields(self):
            self.set(field.name, getattr(self, field.name))

    # -- building ----------------------------------------------------------------
    @classmethod
    def from_dict(
        cls: type[R], data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
    ) -> R:
        """A recipe from a plain dict (e.g. parsed YAML); unknown keys are an error.

        Relative paths in ``PATH_FIELDS`` are resolved against ``base_dir`` when given.
        """
        if not isinstance(data, Mapping):
            raise ParameterError(f"a training config must be a mapping of settings, got {data!r}")
        cfg = cls()
        for key, value in data.items():
            cfg.set(str(key), value, base_dir=base_dir)
        return cfg

    @classmethod
    def from_yaml(cls: type[R], path: str | os.PathLike[str]) -> R:
        """Read a YAML recipe (relative paths in it are relative to the recipe's folder)."""
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"training config {str(path)!r} does not exist") from None
        except IsADirectoryError:
            raise DataError(
                f"training config {str(path)!r} is a folder, expected a YAML file"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"training config {str(path)!r} is not readable: {exc}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataError(f"training config {str(path)!r} is not valid YAML: {exc}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise DataError(f"training config {str(path)!r} must hold a mapping of settings")
        try:
            return cls.from_dict(data, base_dir=path.resolve().parent)
        except ParameterError as exc:
            raise ParameterError(f"{path}: {exc}") from None

    @classmethod
    def from_sources(
        cls: type[R],
        *,
        config: str | os.PathLike[str] | None = None,
        overrides: Sequence[str] = (),
        **settings: Any,
    ) -> R:
        """Recipe file, then explicit ``settings`` (None values skipped), then overrides."""
        cfg = cls.from_yaml(config) if config is not None else cls()
        for key, value in settings.items():
            if value is not None:
                cfg.set(key, value)
        cfg.apply_overrides(overrides)
        return cfg

    # -- changing ----------------------------------------------------------------
    def set(self, key: str, value: Any, *, base_dir: str | os.PathLike[str] | None = None) -> None:
        """Set ``key`` (dotted for dict settings: ``"augment.mixup"``), checking its type."""
        key = key.replace("-", "_")
        name, dot, sub = key.partition(".")
        name = self._current_name(name)
        hints = _field_types(type(self))
        if name not in hints:
            raise ParameterError(f"unknown setting {key!r}{suggest(name, hints)}")
        if dot:
            if not _accepts_dict(hints[name]):
                raise ParameterError(
                    f"setting {name!r} is not a mapping, so {key!r} does not exist; use --{name}"
                )
            allowed = self.SUBKEYS.get(name)
            if allowed is not None and sub not in allowed:
                noun = self.SUBKEY_NOUNS.get(name, f"{name} key")
                raise ParameterError(f"unknown {noun} {sub!r}{suggest(sub, allowed)}")
            value = _with_nested(getattr(self, name) or {}, sub.split("."), value)
        value = self.normalise(name, coerce(name, value, hints[name]))
        if base_dir is not None and name in self.PATH_FIELDS:
            value = resolve_paths(value, Path(base_dir))
        setattr(self, name, value)

    def normalise(self, name: str, value: Any) -> Any:
        """Hook: a subclass's own checks or defaults for one type-checked value."""
        allowed = self.SUBKEYS.get(name)
        if allowed is not None and isinstance(value, Mapping):
            unknown = sorted(set(value) - set(allowed))
            if unknown:
                noun = self.SUBKEY_NOUNS.get(name, f"{name} key")
                raise ParameterError(
                    f"unknown {noun}(s) {unknown}; expected keys of {sorted(allowed)}"
                )
        return value

    def _current_name(self, name: str) -> str:
        new = self.RENAMED.get(name)
        if new is None:
            return name
        warnings.warn(
            f"setting {name!r} was renamed {new!r}; the old name will stop working in a "
            f"future release (update the recipe)",
            FutureWarning,
            stacklevel=4,
        )
        return new

    def apply_overrides(self, tokens: Sequence[str]) -> None:
        """Apply ``["--key", "value", "--key2=value2", "--flag", ...]`` in order.

        A key followed by another ``--key`` (or by nothing) is set to ``true``.
        """
        for key, raw in parse_override_tokens(tokens):
            self.set(key, parse_scalar(raw))

    # -- checking ----------------------------------------------------------------
    def validate(self: R) -> R:
        """Check every value's range; returns self. Subclasses extend it."""
        return self

    # -- saving ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-able dict (checkpoints store this, never the object)."""
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write the full recipe as YAML, atomically (temp file + rename); returns the path."""
        import yaml

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def with_absolute_paths(self: R) -> R:
        """A copy whose path fields are absolute (relative ones: against the working folder)."""
        cfg = dataclasses.replace(self)
        for name in self.PATH_FIELDS:
            setattr(cfg, name, resolve_paths(getattr(cfg, name), Path.cwd()))
        return cfg

    def identity(self) -> dict[str, Any]:
        """The settings that must not change when a run is resumed."""
        d = self.to_dict()
        return {k: d[k] for k in self.IDENTITY_KEYS}


@dataclasses.dataclass
class RunRecipe(Recipe):
    """The settings every trainer shares; :mod:`~torchmusic.training.engine` reads them.

    Parameters
    ----------
    batch_size : int
        Examples per optimiser step (per process under DDP).
    max_epochs : int
        Upper bound on epochs (``max_minutes``, ``max_steps`` and ``patience`` may stop first).
    max_steps : int or None
        Upper bound on optimiser steps (None: no bound).
    max_minutes : float or None
        Wall-clock budget of training + validation, kept across resumes; the best
        checkpoint so far is exported when it runs out.
    lr, weight_decay : float
        AdamW settings (decoupled weight decay).
    scheduler : str
        Learning-rate schedule; each trainer lists the ones it supports.
    grad_clip : float
        Gradient-norm clipping (0: off).
    patience : int
        Early stopping after this many validations without improvement (0: off).
    seed : int
        Seeds splits, initialisation, batch order and augmentation.
    out_dir : str or None
        Run folder (default ``runs/<data name>-<model>``).
    accelerator, devices, num_nodes, strategy, precision
        Passed to :class:`lightning.pytorch.Trainer`. ``precision=None`` picks
        mixed precision (bf16 where supported, else fp16) on GPU and fp32 on CPU.
    num_workers : int or None
        DataLoader workers (None: the trainer's default).
    threads : int or None
        ``torch.set_num_threads`` for the run (None: torch's default).
    resume : bool
        Continue the run in ``out_dir`` from its ``checkpoints/last.ckpt``.
    checkpoint_every_n_steps : int or None
        Also refresh ``last.ckpt`` every N optimiser steps (a kill loses at most N).
    test_after_fit : bool
        Evaluate the best checkpoint on the test split when there is one.
    log_every_n_steps : int
        Logging interval of the training loss.
    deterministic : bool
        Ask torch for deterministic kernels (slower on GPU).
    """

    batch_size: int = 32
    max_epochs: int = 30
    max_steps: int | None = None
    max_minutes: float | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    grad_clip: float = 0.0
    patience: int = 0
    seed: int = 0
    out_dir: str | None = None
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | int | None = None
    num_workers: int | None = None
    threads: int | None = None
    resume: bool = False
    checkpoint_every_n_steps: int | None = None
    test_after_fit: bool = True
    log_every_n_steps: int = 10
    deterministic: bool = False

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("out_dir",)
    #: The schedules a trainer implements (checked by :meth:`validate`).
    SCHEDULERS: ClassVar[tuple[str, ...]] = ("cosine", "none")

    def validate(self: R) -> R:
        """Check the shared settings' ranges; subclasses call this, then check their own."""
        for name in ("batch_size", "max_epochs", "num_nodes", "log_every_n_steps"):
            check_positive_int(name, getattr(self, name))
        for name in ("max_steps", "checkpoint_every_n_steps", "threads"):
            value = getattr(self, name)
            if value is not None:
                check_positive_int(name, value)
        for name in ("patience", "num_workers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ParameterError(f"{name}={value!r} must be an int >= 0")
        if not self.lr > 0:
            raise ParameterError(f"lr={self.lr!r} must be > 0")
        for name in ("weight_decay", "grad_clip"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ParameterError(f"max_minutes={self.max_minutes!r} must be > 0 or null")
        if self.scheduler not in self.SCHEDULERS:
            raise ParameterError(f"scheduler={self.scheduler!r}; expected one of {self.SCHEDULERS}")
        return self


def accepts_renamed(cls: type[R]) -> type[R]:
    """Class decorator (after ``@dataclass``): the constructor also takes ``RENAMED`` names.

    ``EmbedTrainConfig(crops_per_track=4)`` keeps working after the rename to
    ``clips_per_track``, with the same :class:`FutureWarning` a recipe file gets.
    """
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        for old in [k for k in kwargs if k in cls.RENAMED]:
            new = cls.RENAMED[old]
            if new in kwargs:
                raise ParameterError(f"give {new!r} or its old name {old!r}, not both")
            warnings.warn(
                f"setting {old!r} was renamed {new!r}; the old name will stop working in a "
                "future release",
                FutureWarning,
                stacklevel=2,
            )
            kwargs[new] = kwargs.pop(old)
        init(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls


# -- helpers shared by recipes (and by the CLI's settings parsing) ----------------------
def parse_override_tokens(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """``["--a", "1", "--b=2", "--flag"]`` -> ``[("a", "1"), ("b", "2"), ("flag", "true")]``."""
    tokens = list(tokens)
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or len(token) <= 2:
            raise ParameterError(
                f"unexpected argument {token!r}; overrides look like '--key value' or '--key=value'"
            )
        key, eq, raw = token[2:].partition("=")
        if not eq:
            has_value = i + 1 < len(tokens) and not tokens[i + 1].startswith("--")
            raw = tokens[i + 1] if has_value else "true"
            i += int(has_value)
        pairs.append((key, raw))
        i += 1
    return pairs


def parse_scalar(raw: str) -> Any:
    """A command-line value as YAML (``0.2``, ``true``, ``null``, ``[0, 1]``), else the text."""
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def suggest(name: str, known: Any) -> str:
    """``"; did you mean 'x'? (known: ...)"`` for an error message about ``name``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(sorted(known))})"


def coerce(name: str, value: Any, tp: Any) -> Any:
    """``value`` checked against annotation ``tp`` (ints widen to float, YAML text to str)."""
    members = _members(tp)
    if value is None:
        if type(None) in members:
            return None
        raise ParameterError(f"{name} must not be null")
    for member in members:
        base = typing.get_origin(member) or member
        if base is bool:
            if isinstance(value, bool):
                return value
        elif base is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif base is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        elif base is dict:
            if isinstance(value, Mapping):
                return {str(k): v for k, v in value.items()}
        elif base is list:
            if isinstance(value, list | tuple):
                args = typing.get_args(member)
                if args and args[0] is str:
                    return [coerce(f"{name}[]", v, str) for v in value]
                return list(value)
    if str in members and isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    expected = " or ".join(_type_name(m) for m in members)
    raise ParameterError(f"{name}={value!r} has the wrong type; expected {expected}")


#: ``${NAME:-default}``: the variable's value when set and not empty, else ``default``.
_VAR_WITH_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def expand_vars(text: str) -> str:
    """``$NAME``, ``${NAME}`` and ``${NAME:-default}`` (the shell's rule) expanded;
    unset variables without a default are left as written."""
    text = _VAR_WITH_DEFAULT.sub(lambda m: os.environ.get(m.group(1)) or m.group(2), text)
    return os.path.expandvars(text)


def resolve_paths(value: Any, base: Path) -> Any:
    """A path (or list / dict of paths) made absolute against ``base``; ``~`` and ``$VARS``
    (with ``${NAME:-default}`` defaults, see :func:`expand_vars`) expanded first.

    Examples
    --------
    >>> resolve_paths("${NO_SUCH_VAR_X:-../data}/a.txt", Path("/r/configs"))
    '/r/data/a.txt'
    """

    def one(p: Any) -> Any:
        if not isinstance(p, str) or not p:
            return p
        expanded = Path(expand_vars(p)).expanduser()
        return str(expanded if expanded.is_absolute() else (base / expanded).resolve())

    if isinstance(value, list):
        return [one(p) for p in value]
    if isinstance(value, dict):
        return {k: one(v) for k, v in value.items()}
    return one(value)


def check_positive_int(name: str, value: Any) -> None:
    """:class:`ParameterError` unless ``value`` is an int >= 1 (bools refused)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ParameterError(f"{name}={value!r} must be a positive integer")


def _with_nested(mapping: Mapping[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A copy of ``mapping`` with ``value`` at ``path`` (``["a", "b"]``: ``mapping["a"]["b"]``)."""
    out = dict(mapping)
    head, *rest = path
    if rest:
        inner = out.get(head)
        if inner is not None and not isinstance(inner, Mapping):
            raise ParameterError(f"{head!r} is {inner!r}, not a group of settings")
        value = _with_nested(inner or {}, rest, value)
    out[head] = value
    return out


def _field_types(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        names = {f.name for f in dataclasses.fields(cls)}
        hints = {k: v for k, v in typing.get_type_hints(cls).items() if k in names}
        _HINTS[cls] = hints
    return hints


_HINTS: dict[type, dict[str, Any]] = {}


def _accepts_dict(tp: Any) -> bool:
    return any(typing.get_origin(t) is dict or t is dict for t in _members(tp))


def _members(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(typing.get_origin(tp) or tp, "__name__", str(tp))
