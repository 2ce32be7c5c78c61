"""The flag vocabulary's argparse helpers (see ``docs/cli.md``).

- :class:`Parser`: every parser of the tree; its help keeps the examples epilog as written.
- :func:`examples`: the ``examples:`` epilog every command's ``--help`` ends with.
- :func:`deprecated`: an old spelling that still parses (for one release), stores into the
  new option's ``dest``, warns on stderr in one line naming the new spelling, and is
  hidden from ``--help``.
- :func:`add_underscore_aliases`: ``--max_epochs`` for every ``--max-epochs`` (hidden).
- :func:`after_parse`: a check run on the parsed arguments (model given positionally or
  with ``--model``, an option required unless its deprecated alias was given).

Argparse only: imported by ``torchmusic --help``, so no torch, numpy or other heavy import.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable
from typing import Any

#: The first line of every epilog (the vocabulary test looks for it).
EXAMPLES_HEADER = "examples:"


class HelpFormatter(argparse.HelpFormatter):
    """Argparse's formatter, except that an ``examples:`` epilog keeps its lines."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(EXAMPLES_HEADER):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with :class:`HelpFormatter`; its subparsers are Parsers too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def examples(*commands: str) -> str:
    """The epilog: ``examples:`` then one ``torchmusic ...`` command a line (a trailing
    ``# comment`` is allowed; the test suite parses or runs every one)."""
    return "\n".join([EXAMPLES_HEADER, *(f"  {c}" for c in commands)])


def warn_deprecated(old: str, new: str, note: str = "") -> None:
    """One line on stderr: ``torchmusic: warning: OLD is deprecated, use NEW ...``."""
    tail = f" ({note})" if note else ""
    print(
        f"torchmusic: warning: {old} is deprecated and goes in the next release; use {new}{tail}",
        file=sys.stderr,
    )


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option: stores into the new option's ``dest`` and warns."""

    def __init__(
        self,
        option_strings: list[str],
        dest: str,
        *,
        new: str,
        note: str = "",
        nargs: Any = None,
        const: Any = None,
        default: Any = argparse.SUPPRESS,
        type: Callable[[str], Any] | None = None,
        choices: Any = None,
        required: bool = False,
        help: str | None = argparse.SUPPRESS,
        metavar: str | None = None,
    ) -> None:
        super().__init__(
            option_strings, dest, nargs=nargs, const=const, default=default, type=type,
            choices=choices, required=required, help=help, metavar=metavar,
        )  # fmt: skip
        self.new, self.note = new, note

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        warn_deprecated(f"'{parser.prog} {option_string}'", self.new, self.note)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def deprecated(
    parser: argparse.ArgumentParser, *old: str, new: str, dest: str, **kwargs: Any
) -> argparse.Action:
    """Add the old spellings ``old`` of the option ``new`` (which stores into ``dest``)."""
    return parser.add_argument(*old, action=DeprecatedAlias, new=new, dest=dest, **kwargs)


def is_deprecated(action: argparse.Action) -> bool:
    return isinstance(action, DeprecatedAlias)


def is_underscore_alias(action: argparse.Action) -> bool:
    return bool(getattr(action, "underscore_alias_of", None))


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` by name (empty for a leaf command)."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.update(action.choices)
    return out


def add_underscore_aliases(parser: argparse.ArgumentParser) -> None:
    """Give every ``--kebab-case`` option of the tree a hidden ``--snake_case`` spelling,
    as the ``--key value`` overrides accept both (``--max-epochs`` / ``--max_epochs``)."""
    for action in list(parser._actions):
        if is_deprecated(action) or action.help == argparse.SUPPRESS or action.required:
            continue
        names = [
            "--" + s[2:].replace("-", "_")
            for s in action.option_strings
            if s.startswith("--") and "-" in s[2:]
        ]
        names = [n for n in names if n not in parser._option_string_actions]
        if names:
            alias = copy.copy(action)
            alias.option_strings = names
            alias.help = argparse.SUPPRESS
            alias.default = argparse.SUPPRESS
            alias.underscore_alias_of = action.option_strings[0]  # type: ignore[attr-defined]
            parser._add_action(alias)
    for sub in subparsers(parser).values():
        add_underscore_aliases(sub)


#: Help of the inference device option (predict, evaluate, embed, similar, generate, ...).
DEVICE_HELP = "device to run the model on: cpu, cuda or cuda:1 (default: cpu)"


def add_pipeline_options(
    p: argparse.ArgumentParser, *, batch_size: int | None, batch_help: str
) -> None:
    """``--workers`` and ``--batch-size`` of the folder jobs (predict, embed, catalog add)."""
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="decoding worker processes (default: up to 4; 0: decode in the main process)",
    )
    p.add_argument("--batch-size", type=int, default=batch_size, metavar="N", help=batch_help)


def add_training_options(
    p: argparse.ArgumentParser, *, arch_help: str, config_example: str
) -> None:
    """The options every ``train TASK`` shares: --arch (--model: deprecated), --config,
    --out, --resume, and the training device vocabulary (--accelerator/--devices/--num-nodes)."""
    p.add_argument("--arch", default=None, help=arch_help)
    deprecated(p, "--model", new="--arch", dest="arch", note="--model names a model file")
    p.add_argument(
        "--config", default=None, metavar="YAML", help=f"YAML recipe, e.g. {config_example}"
    )
    p.add_argument(
        "--out", "-o", default=None, metavar="RUN_DIR", help="run folder (default: runs/<name>)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out after a kill")
    add_training_devices(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_training_devices(p: argparse.ArgumentParser, *, nodes: bool = True) -> None:
    """Training's device vocabulary (Lightning's): --accelerator, --devices, --num-nodes."""
    p.add_argument(
        "--accelerator", default=None, help="cpu | gpu | auto (default: --config's, else auto)"
    )
    devices = "devices per machine: 1, 4, 0,1 or auto" if nodes else "1 or auto (one device)"
    p.add_argument("--devices", default=None, help=devices)
    if nodes:
        p.add_argument(
            "--num-nodes", type=int, default=None, help="machines (DDP through Lightning)"
        )


Check = Callable[[argparse.Namespace, argparse.ArgumentParser], None]


def after_parse(parser: argparse.ArgumentParser, *checks: Check) -> None:
    """Run ``check(args, parser)`` after parsing (``main`` calls :func:`run_checks`);
    a check reports a usage error with ``parser.error`` (exit status 2)."""
    parser.set_defaults(_after_parse=[(check, parser) for check in checks])


def run_checks(args: argparse.Namespace) -> None:
    for check, parser in getattr(args, "_after_parse", None) or []:
        check(args, parser)
    if hasattr(args, "_after_parse"):
        del args._after_parse


def require(dest: str, flags: str) -> Check:
    """``dest`` must be set (by its option or a deprecated alias of it)."""

    def check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
        if getattr(args, dest, None) is None:
            parser.error(f"the following arguments are required: {flags}")

    return check


def model_positional_or_flag(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """``MODEL`` given as the first positional (``model_path``) or as ``--model/-m``:
    one of them, or both naming the same model; the result is ``args.model``."""
    positional, flag = getattr(args, "model_path", None), args.model
    if positional and flag and positional != flag:
        parser.error(f"two models given ({positional!r} and --model {flag!r}); give one")
    args.model = args.model_path = flag or positional
    if not args.model:
        parser.error("the following arguments are required: MODEL (or --model/-m)")


def model_then_files(**files: str) -> Check:
    """Positionals ``[MODEL] FILE...`` (``files``: dest -> metavar, in order): with
    ``--model/-m`` the files only, otherwise the model first. Sets ``args.model`` and
    ``args.model_path`` to the model and each ``args.<dest>`` to its file."""

    def check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
        paths = list(args.paths)
        if args.model is None and len(paths) == len(files) + 1:
            args.model, *paths = paths
        if args.model is None or len(paths) != len(files):
            wanted = " ".join(files.values())
            given = f"--model and {len(args.paths)}" if args.model else str(len(args.paths))
            parser.error(f"expected MODEL {wanted} or --model MODEL {wanted}, got {given} file(s)")
        args.model_path = args.model
        for dest, value in zip(files, paths, strict=True):
            setattr(args, dest, value)

    return check
