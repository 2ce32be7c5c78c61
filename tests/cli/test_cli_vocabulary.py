"""One flag vocabulary and help that teaches (docs/cli.md), checked on the whole argparse tree.

Every command has a description and an ``examples:`` epilog; every example parses (and
its ``--key value`` overrides are real settings); the cheap ones run. The vocabulary:
``--model/-m`` is a model to use, ``--arch`` an architecture to train, ``--top-k/-k``
how many results, ``--catalog/-c`` the catalog, ``--out/-o`` one kind of output per
command; ``--device`` for inference, ``--accelerator/--devices/--num-nodes`` for
training; kebab flags have a hidden snake_case spelling; old spellings warn.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.cli import _flags
from torchmusic.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[2]
TRAIN_TASKS = (
    "train classify",
    "train lm",
    "train embed",
    "train recommend",
    "train vocoder",
    "train denoise",
    "train gan",
)
#: Where --out is a run folder; elsewhere a folder (DIR) or a file (FILE).
RUN_FOLDER_OUT = (
    "train classify",
    "train lm",
    "train embed",
    "train vocoder",
    "train denoise",
    "train gan",
)


def _tree() -> dict[str, argparse.ArgumentParser]:
    """Every parser by command path ("" for torchmusic itself, "catalog add", ...)."""
    out: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        out[path] = parser
        for name, sub in _flags.subparsers(parser).items():
            walk(sub, f"{path} {name}".strip())

    walk(build_parser(), "")
    return out


TREE = _tree()
LEAVES = {path: p for path, p in TREE.items() if not _flags.subparsers(p)}


def _options(parser: argparse.ArgumentParser, *, visible: bool = True) -> list[argparse.Action]:
    """Option actions (not positionals, -h, or subcommands); visible: not hidden aliases."""
    return [
        a
        for a in parser._actions
        if a.option_strings
        and not isinstance(a, argparse._HelpAction)
        and (not visible or a.help != argparse.SUPPRESS)
    ]


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    lines = (parser.epilog or "").splitlines()
    assert lines and lines[0] == _flags.EXAMPLES_HEADER, f"{parser.prog}: no examples epilog"
    return [line.strip() for line in lines[1:]]


ALL_EXAMPLES = sorted({(path, ex) for path, p in TREE.items() for ex in _examples(p)})


def _parse(line: str) -> tuple[argparse.Namespace, list[str]]:
    """Parse an example as ``main`` does (overrides kept aside, after-parse checks run)."""
    tokens = shlex.split(line, comments=True)
    assert tokens[0] == "torchmusic", line
    args, extra = build_parser().parse_known_args(tokens[1:])
    if extra and isinstance(getattr(args, "paths", None), list):
        args.paths.extend(extra)  # files after an option (main does the same)
        extra = []
    _flags.run_checks(args)
    return args, extra


# -- help that teaches --------------------------------------------------------------------


def test_the_tree_is_walked():
    assert {"predict", "train classify", "catalog add", "datasets build folk"} <= set(LEAVES)
    assert len(LEAVES) >= 20 and len(TREE) >= 25


@pytest.mark.parametrize("path", [p for p in TREE if p])
def test_every_command_has_a_one_line_help_and_a_description(path):
    *parent, name = path.split()
    (choices,) = [
        a for a in TREE[" ".join(parent)]._actions if isinstance(a, argparse._SubParsersAction)
    ]
    (pseudo,) = [a for a in choices._choices_actions if a.dest == name]
    assert pseudo.help and "\n" not in pseudo.help, path
    assert TREE[path].description, f"torchmusic {path} has no description"


@pytest.mark.parametrize("path", list(TREE))
def test_every_option_and_positional_has_one_line_of_help(path):
    for action in TREE[path]._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        if action.help == argparse.SUPPRESS:
            # hidden: only old spellings and the snake_case spellings
            assert _flags.is_deprecated(action) or _flags.is_underscore_alias(action), name
            continue
        assert action.help and "\n" not in action.help, f"torchmusic {path} {name}: no help"


@pytest.mark.parametrize("path", list(TREE))
def test_every_help_ends_with_two_or_three_examples(path):
    parser = TREE[path]
    examples = _examples(parser)
    assert 2 <= len(examples) <= 3, f"torchmusic {path}: {len(examples)} examples"
    text = parser.format_help()
    assert text.rstrip().endswith(examples[-1]), "the examples must end the help"
    for example in examples:
        assert example.startswith("torchmusic ") and f"  {example}\n" in text + "\n"
        words = shlex.split(example, comments=True)[1:]
        if words != ["--version"]:  # (info's second example)
            assert words[: len(path.split())] == path.split(), f"{example} is not {path}"


@pytest.mark.parametrize("path,example", ALL_EXAMPLES, ids=[e for _, e in ALL_EXAMPLES])
def test_every_example_parses_without_a_deprecation(path, example, capsys):
    args, extra = _parse(example)
    assert capsys.readouterr().err == "", "examples use only the new spellings"
    if extra:
        assert getattr(args, "accepts_overrides", False), f"{example}: {extra} not accepted"
        _check_overrides(args, extra)


def _check_overrides(args: argparse.Namespace, extra: list[str]) -> None:
    """The example's ``--key value`` overrides are settings of the task's recipe."""
    config = str(REPO / args.config) if args.config else None
    if args.train_task == "recommend":
        from torchmusic.training.recommend.settings import RecommendRecipe

        RecommendRecipe.from_sources(config=config, model=args.arch, overrides=extra)
        return
    if args.train_task == "denoise":
        from torchmusic.training.denoise.settings import DenoiseTrainConfig

        DenoiseTrainConfig.from_sources(config=config, model=args.arch, overrides=extra)
        return
    if args.train_task == "gan":
        from torchmusic.training.gan.settings import GanTrainConfig

        GanTrainConfig.from_sources(config=config, model=args.arch, overrides=extra)
        return
    if args.train_task == "classify":
        from torchmusic.training.classify.settings import TrainConfig as cls
    elif args.train_task == "embed":
        from torchmusic.training.embed.settings import EmbedTrainConfig as cls
    elif args.train_task == "vocoder":
        from torchmusic.training.vocoder.settings import VocoderTrainConfig as cls
    elif args.arch == "pianoroll":
        from torchmusic.training.pianoroll.settings import PianoRollTrainConfig as cls
    else:
        from torchmusic.training.lm.settings import LMTrainConfig as cls
    cls.from_sources(config=config, overrides=extra, data=args.data, model=args.arch)


def _documented_commands() -> list[tuple[str, str]]:
    """``torchmusic ...`` lines of the README's and docs' code blocks (continuations
    joined), except synopses (``[--opt]``, ``a|b``, ``...``)."""
    found = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        fenced, pending = False, ""
        for line in doc.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("```"):
                fenced, pending = not fenced, ""
                continue
            text = pending + line.strip().removeprefix("$ ")
            if not fenced or not (pending or text.startswith("torchmusic ")):
                continue
            if text.endswith("\\"):
                pending = text[:-1] + " "
                continue
            pending = ""
            command = shlex.split(text, comments=True)
            if not any(c.startswith("[") or "|" in c or c == "..." for c in command):
                found.append((doc.name, text))
    return found


DOCUMENTED = _documented_commands()


def test_the_docs_show_commands():
    assert len(DOCUMENTED) > 40
    assert {doc for doc, _ in DOCUMENTED} >= {"README.md", "cli.md", "catalog.md", "recommend.md"}


@pytest.mark.parametrize("doc,command", DOCUMENTED, ids=[f"{d}: {c}" for d, c in DOCUMENTED])
def test_the_readme_and_docs_use_only_the_new_spellings(doc, command, capsys):
    args, extra = _parse(command)
    assert "deprecated" not in capsys.readouterr().err, f"{doc}: {command}"
    if extra:
        assert getattr(args, "accepts_overrides", False), f"{doc}: {command}: {extra}"
        _check_overrides(args, extra)


# -- the vocabulary -----------------------------------------------------------------------


def test_model_is_always_a_model_to_use_and_arch_an_architecture_to_train():
    for path, parser in LEAVES.items():
        for action in _options(parser, visible=False):
            opts = set(action.option_strings)
            if "--model" in opts and _flags.is_deprecated(action):
                assert path in TRAIN_TASKS and action.dest == "arch" and action.new == "--arch"
            elif "--model" in opts or "-m" in opts:
                if _flags.is_underscore_alias(action):
                    continue
                assert opts == {"--model", "-m"} and action.dest == "model", path
                assert path not in TRAIN_TASKS and "model" in action.help, path
            if "--arch" in opts:
                assert path in TRAIN_TASKS, path
    for task in TRAIN_TASKS:
        assert "--arch" in LEAVES[task]._option_string_actions, task
        assert "-m" not in LEAVES[task]._option_string_actions, task


def test_k_is_always_top_k_how_many_results():
    seen = []
    for path, parser in LEAVES.items():
        for action in _options(parser):
            opts = set(action.option_strings)
            if "-k" in opts or "--top-k" in opts:
                assert opts == {"--top-k", "-k"} and action.dest == "top_k", path
                seen.append(path)
    assert sorted(seen) == ["predict", "recommend", "similar"]
    sampling = LEAVES["generate"]._option_string_actions
    assert sampling["--sample-top-k"].dest == "sample_top_k"
    assert _flags.is_deprecated(sampling["--top-k"]) and "-k" not in sampling


def test_the_catalog_is_always_catalog_c():
    seen = []
    for path, parser in LEAVES.items():
        for action in _options(parser):
            opts = set(action.option_strings)
            if action.dest == "catalog" or opts & {"--catalog", "-c"}:
                assert opts == {"--catalog", "-c"} and action.dest == "catalog", path
                seen.append(path)
    assert set(seen) == {"embed", "similar", *(f"catalog {a}" for a in ("add", "remove"))} | {
        "catalog info",
        "catalog import",
        "catalog reindex",
        "serve",  # the catalog /api/similar searches
    }


def test_out_is_one_kind_of_output_per_command():
    for path, parser in LEAVES.items():
        outs = [a for a in _options(parser) if "--out" in a.option_strings]
        for action in outs:
            assert set(action.option_strings) == {"--out", "-o"}, path
            assert action.metavar in ("DIR", "RUN_DIR", "FILE"), f"{path}: {action.metavar}"
            assert (action.metavar == "RUN_DIR") == (path in RUN_FOLDER_OUT), path
        if path.startswith("catalog") or path in ("embed", "similar"):
            assert not outs, f"{path}: a catalog is --catalog/-c, not --out"


def test_one_device_vocabulary():
    for path, parser in LEAVES.items():
        opts = parser._option_string_actions
        if "--device" in opts:
            assert path not in TRAIN_TASKS and opts["--device"].help == _flags.DEVICE_HELP
        if path in TRAIN_TASKS:
            assert {"--accelerator", "--devices"} <= set(opts), path
        else:
            assert not {"--accelerator", "--devices", "--num-nodes"} & set(opts), path
    for path in ("predict", "evaluate", "embed", "catalog add", "similar", "generate"):
        assert "--device" in LEAVES[path]._option_string_actions, path
    for task in ("train classify", "train lm", "train embed"):
        assert "--num-nodes" in LEAVES[task]._option_string_actions, task


def test_every_kebab_flag_also_has_a_hidden_snake_case_spelling():
    count = 0
    for parser in LEAVES.values():
        for action in _options(parser):
            for opt in action.option_strings:
                if opt.startswith("--") and "-" in opt[2:] and not action.required:
                    alias = parser._option_string_actions["--" + opt[2:].replace("-", "_")]
                    assert alias.dest == action.dest and alias.help == argparse.SUPPRESS, opt
                    count += 1
    assert count > 40
    args, _ = _parse("torchmusic train classify --data d --num_nodes 2 --no_progress")
    assert args.num_nodes == 2 and args.no_progress
    args, _ = _parse("torchmusic predict drums a.wav --top_k 1 --hop_seconds 0.5")
    assert args.top_k == 1 and args.hop_seconds == 0.5
    args, extra = _parse("torchmusic train lm --data d --max_minutes 6 --max-epochs 2")
    assert extra == ["--max_minutes", "6", "--max-epochs", "2"]  # overrides take both


# -- old spellings: parse for one release, warn in one line naming the new one -------------


@pytest.mark.parametrize(
    "line,old,dest,value,new",
    [
        ("train classify --data d --model crnn", "--model", "arch", "crnn", "--arch"),
        ("train lm --data d --model lstm", "--model", "arch", "lstm", "--arch"),
        ("train embed --data d --model autoencoder", "--model", "arch", "autoencoder", "--arch"),
        ("train recommend --data d --model als -o r.st", "--model", "arch", "als", "--arch"),
        ("generate folk --top-k 40", "--top-k", "sample_top_k", 40, "--sample-top-k"),
        ("embed a.wav -m mfcc -o cat", "-o", "catalog", "cat", "--catalog/-c"),
        ("embed a.wav -m mfcc --out cat", "--out", "catalog", "cat", "--catalog/-c"),
    ],
)
def test_old_spellings_parse_and_warn(line, old, dest, value, new, capsys):
    args, extra = _parse(f"torchmusic {line}")
    assert getattr(args, dest) == value and not extra
    err = capsys.readouterr().err
    command = line.split(" --")[0].split(" a.wav")[0].split(" folk")[0]
    assert err.count("\n") == 1 and f"'torchmusic {command} {old}' is deprecated" in err, err
    assert f"use {new}" in err, err


def test_the_old_arch_spelling_still_reaches_the_recipe(tmp_path, capsys):
    # --model vgg in train classify: still the architecture (refused by the recipe).
    (tmp_path / "a").mkdir()
    rc = main(["train", "classify", "--data", str(tmp_path), "--model", "vgg", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and "use --arch" in err and "model='vgg' is not an architecture" in err, err


@pytest.mark.parametrize(
    "line,message",
    [
        ("torchmusic evaluate --data d", "required: MODEL (or --model/-m)"),
        ("torchmusic evaluate a.st -m b.st --data d", "two models given"),
        ("torchmusic interpolate a.mid b.mid", "expected MODEL A.mid B.mid"),
        ("torchmusic interpolate -m v.st x.st a.mid b.mid", "got --model and 3 file(s)"),
        ("torchmusic embed a.wav -m mfcc", "required: --catalog/-c"),
    ],
)
def test_model_and_catalog_usage_errors(line, message, capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(line)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_the_model_positional_keeps_working():
    for line in ("torchmusic evaluate m.st --data d", "torchmusic evaluate --data d -m m.st"):
        assert _parse(line)[0].model == "m.st"
    for line in (
        "torchmusic interpolate v.st a.mid b.mid",
        "torchmusic interpolate -m v.st a.mid b.mid",
        "torchmusic interpolate v.st a.mid --steps 2 b.mid",
        "torchmusic interpolate v.st --steps 2 a.mid b.mid",
    ):
        args = _parse(line)[0]
        assert (args.model_path, args.start, args.end) == ("v.st", "a.mid", "b.mid"), line


# -- the cheap examples run ---------------------------------------------------------------

#: Run in this order in one folder holding the files they name (see ``sandbox``).
RUN = [
    "torchmusic info",
    "torchmusic features kick.wav samples/ --out feats/       # log-mel, one .npy per file",
    "torchmusic features samples/ --kind mfcc --n-mfcc 13 --out mfcc/",
    "torchmusic predict --model drums kick.wav snare.wav --top-k 2",
    "torchmusic predict -m drums samples/ --format json --out predictions.json",
    "torchmusic evaluate --model drums --data kit/",
    "torchmusic embed music/ --model mfcc --catalog my_catalog",
    "torchmusic catalog add more_music/ --catalog my_catalog",
    "torchmusic catalog add kick.wav snare.wav -c my_catalog",
    "torchmusic catalog reindex --catalog my_catalog",
    "torchmusic similar kick.wav --catalog my_catalog -k 3",
    "torchmusic similar 2 -c my_catalog --top-k 2 --format json",
    "torchmusic catalog remove 1 --catalog my_catalog",
    "torchmusic catalog remove more_music/x.wav -c my_catalog",
    "torchmusic generate -m folk -n 1 --bars 4 --seed 3 --no-wav --out out/",
]
#: Torch-free ones, each run in a fresh ``python -m torchmusic`` (about a second each).
RUN_IN_SUBPROCESS = [
    "torchmusic --version",
    "torchmusic catalog info --catalog my_catalog",
    "torchmusic recommend --model hybrid.safetensors --user 2 -k 10",
    'torchmusic recommend -m hybrid.safetensors --like "Daft Punk" "Air" --format json',
]


def _tone(path: Path, hz: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(22050) / 22050
    sf.write(path, (0.4 * np.sin(2 * np.pi * hz * t) * np.exp(-4 * t)).astype(np.float32), 22050)


def _recommender(path: Path) -> None:
    import scipy.sparse as sp

    from torchmusic.recommend import ListeningData, recommender_class

    names = ["Daft Punk", "Air", "Justice", "Phoenix", "Cassius", "M83", "Kavinsky", "Sebastien"]
    rng = np.random.default_rng(0)
    plays = (rng.random((12, 8)) < 0.4) * rng.integers(1, 20, (12, 8))
    plays[np.arange(12), np.arange(12) % 8] += 3
    data = ListeningData(
        users=np.array([str(i) for i in range(12)]),
        items=np.array([f"i{i}" for i in range(8)]),
        item_names=np.array(names),
        plays=sp.csr_matrix(plays.astype(np.float32)),
        tags=np.array(["electro", "french", "pop"]),
        tag_assignments=np.array([[u, u % 8, u % 3] for u in range(12)]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too little data to tune the hybrid's weights
        recommender_class("hybrid")().fit(data).save(path)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A folder with the files the runnable examples name."""
    for name, hz in [("kick.wav", 60), ("snare.wav", 200), ("samples/s0.wav", 100),
                     ("samples/s1.wav", 300), ("music/m0.wav", 110), ("music/m1.wav", 220),
                     ("music/m2.wav", 440), ("more_music/x.wav", 550), ("more_music/y.wav", 660),
                     ("kit/kick/k1.wav", 55), ("kit/snare/s1.wav", 250)]:  # fmt: skip
        _tone(tmp_path / name, hz)
    _recommender(tmp_path / "hybrid.safetensors")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCHMUSIC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_the_cheap_examples_run(sandbox, capsys):
    from torchmusic.pretrained import available_models

    shown = {example for _, example in ALL_EXAMPLES}
    for line in RUN + RUN_IN_SUBPROCESS:
        assert line.strip() in shown, f"{line!r} is no longer an example"
    for line in RUN:
        if "folk" in line.split() and "folk" not in available_models():
            continue
        rc = main(shlex.split(line, comments=True)[1:])
        assert rc == 0, f"{line}: {capsys.readouterr().err}"
    assert len(list((sandbox / "feats").rglob("*.npy"))) == 3
    assert json.loads((sandbox / "predictions.json").read_text())["tracks"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    for line in RUN_IN_SUBPROCESS:
        argv = [sys.executable, "-m", *shlex.split(line, comments=True)]
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0 and out.stdout and "Traceback" not in out.stderr, out.stderr
    # an old spelling still runs, with its warning
    assert main(["embed", "music/m0.wav", "-m", "mfcc", "-o", "old_catalog", "--no-progress"]) == 0
    assert "use --catalog/-c" in capsys.readouterr().err
    assert (sandbox / "old_catalog").is_dir()
