"""Layer rules: what each part of torchmusic may import, checked two ways.

1. Statically: every module under ``src/torchmusic`` is parsed (imports inside
   functions included) and no package may import one of a higher layer, or a peer
   of its own layer (:data:`LAYERS`; the rules are written out in
   ``docs/architecture.md``, "Dependency rules").
2. At run time: the cheapest real invocation of each command runs in a fresh
   interpreter and reports ``sys.modules`` at exit: no command imports Lightning or
   :mod:`torchmusic.training`, and ``--help``, ``catalog info`` and ``recommend`` on
   a popularity / ALS / content model do not import torch.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "torchmusic"

#: The layers, lowest first. A package may import its own modules and those of lower
#: layers, never a higher layer nor another package of its own layer.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "_lazy"),  # _lazy: the lazy-attribute helper of every package __init__
    ("pretrained",),  # names of the shipped model files
    ("io",),  # model-file container, ModelFormat, Registry: torch-free
    ("audio",),  # decode / resample / save audio; FluidSynth rendering
    ("features",),
    ("data",),  # datasets, clips, windows, feature cache, demo corpus
    ("models",),  # networks and their model-file formats
    ("metrics",),
    ("symbolic",),  # scores, tokenizers, corpora, generation
    ("enhance",),  # DSP denoising on arrays: the baselines serve.denoise chains with the model
    ("serve", "embed"),  # classifiers' predict / evaluate, vocode, denoise; embedders
    ("recommend",),  # recommenders and the track catalog (which embeds)
    ("scale",),  # whole-library jobs: worker-process decoding, cross-track batching, Ray
    ("web",),  # `torchmusic serve`: the FastAPI app and its page, over everything below
    ("training",),
    ("cli",),
    ("__main__",),  # python -m torchmusic
]

#: Imports that break the layering knowingly, each with the reason. Keep this short.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("torchmusic.recommend.bpr", "torchmusic.training.recommend"): (
        "BPRRecommender.fit trains a two-tower network with Lightning: the one "
        "recommender whose fit is a training job; imported inside fit only"
    ),
}

#: Packages that must not import these at module level (lazily inside a function is
#: fine): they are imported by commands that must start without them.
MODULE_LEVEL_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "errors": ("torch", "scipy", "numpy"),
    "pretrained": ("torch", "scipy", "numpy"),
    "io": ("torch", "scipy", "lightning", "safetensors.torch"),
}
#: Third-party packages only these layers may import at all.
ONLY_IN: dict[str, tuple[str, ...]] = {
    "lightning": ("training",),
    "pytorch_lightning": (),
}

_RANK = {pkg: i for i, group in enumerate(LAYERS) for pkg in group}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at module level)`` of every import in ``path``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top_level = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from torchmusic import audio` imports the subpackage.
            targets = (
                [f"torchmusic.{a.name}" for a in node.names] if module == "torchmusic" else [module]
            )
        else:
            continue
        out += [(t, node.lineno, id(node) in top_level) for t in targets]
    return out


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "torchmusic" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in _RANK else None  # not `torchmusic.__version__`


def _violations() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        importer = _module_name(path)
        own = importer.split(".")[1] if "." in importer else None
        for target, line, top in _imports(path):
            where = f"{path.relative_to(SRC.parent)}:{line}: {importer} imports {target}"
            head = target.split(".")[0]
            if head in ONLY_IN and own not in ONLY_IN[head]:
                found.append(f"{where} (only {ONLY_IN[head] or 'no layer'} may import {head})")
            if top and any(
                target == bad or target.startswith(bad + ".")
                for bad in MODULE_LEVEL_FORBIDDEN.get(own, ())
            ):
                found.append(f"{where} at module level (import it inside the function)")
            theirs = _layer(target)
            if own is None or theirs is None or theirs == own:
                continue
            if any(target.startswith(t) for (i, t) in EXCEPTIONS if i == importer):
                continue
            if _RANK[theirs] >= _RANK[own]:
                kind = "a peer" if _RANK[theirs] == _RANK[own] else "a higher layer"
                found.append(f"{where} ({own} -> {theirs}: {kind})")
    return found


def test_every_package_has_a_layer():
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    packages |= {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert packages - set(_RANK) == set(), "give every package a place in LAYERS"


def test_lower_layers_never_import_higher_ones():
    violations = _violations()
    assert not violations, "layer rule broken:\n" + "\n".join(violations)


def test_every_subpackage_is_an_attribute():
    import torchmusic

    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    missing = [name for name in sorted(packages | {"errors"}) if name not in torchmusic._SUBMODULES]
    assert not missing, f"add {missing} to torchmusic._SUBMODULES"
    assert torchmusic.recommend.__name__ == "torchmusic.recommend"


# -- run time ---------------------------------------------------------------------------------

#: Run ``torchmusic`` with each argv of a JSON list in one interpreter; after each, write
#: the modules it added (first seen) to the output file.
_RUNNER = r"""
import contextlib, io, json, sys
out, argvs = sys.argv[1], json.loads(sys.argv[2])
before = set(sys.modules)
from torchmusic.cli.main import main
report = []
for argv in argvs:
    buf_out, buf_err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf_out), contextlib.redirect_stderr(buf_err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    report.append({"argv": argv, "rc": rc, "stderr": buf_err.getvalue()[-2000:],
                   "modules": sorted(set(sys.modules) - before)})
    before = set(sys.modules)
with open(out, "w") as f:
    json.dump(report, f)
"""


def _run(tmp_path: Path, *argvs: list[str]) -> list[dict]:
    """Run the argvs in one fresh interpreter; each entry's ``modules`` are cumulative."""
    out = tmp_path / f"modules-{len(list(tmp_path.glob('modules-*')))}.json"
    env = dict(os.environ, TORCHMUSIC_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(out), json.dumps([list(a) for a in argvs])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    seen: set[str] = set()
    for entry in report:
        seen |= set(entry["modules"])
        entry["modules"] = seen.copy()
        assert entry["rc"] in (0, None), f"{entry['argv']} failed: {entry['stderr']}"
    return report


def _imported(modules: set[str], *names: str) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


#: Never imported by any command below (training commands are not run here).
NEVER = ("lightning", "pytorch_lightning", "lightning_fabric", "torchmusic.training")


def _check(entry: dict, *, forbidden: tuple[str, ...] = ()) -> None:
    bad = _imported(entry["modules"], *NEVER, *forbidden)
    assert not bad, f"torchmusic {' '.join(entry['argv'])} imported {bad[:12]}"


def _help_argvs() -> list[list[str]]:
    import argparse

    from torchmusic.cli.main import build_parser

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
        argvs = [[*prefix, "--help"]]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    argvs += walk(sub, [*prefix, name])
        return argvs

    return walk(build_parser(), [])


def test_help_never_imports_torch(tmp_path):
    argvs = _help_argvs()
    assert len(argvs) > 20
    for entry in _run(tmp_path, *argvs):
        _check(entry, forbidden=("torch", "numpy", "scipy", "torchmusic.models"))


def _listening_data():
    import scipy.sparse as sp

    from torchmusic.recommend import ListeningData

    rng = np.random.default_rng(0)
    plays = (rng.random((12, 8)) < 0.4) * rng.integers(1, 20, (12, 8))
    plays[np.arange(12), np.arange(12) % 8] += 3  # every user and item has a play
    return ListeningData(
        users=np.array([f"u{i}" for i in range(12)]),
        items=np.array([f"i{i}" for i in range(8)]),
        item_names=np.array([f"Artist {i}" for i in range(8)]),
        plays=sp.csr_matrix(plays.astype(np.float32)),
        tags=np.array(["rock", "jazz", "folk"]),
        tag_assignments=np.array([[u, u % 8, u % 3] for u in range(12)]),
    )


@pytest.mark.parametrize("kind", ["popularity", "als", "content"])
def test_recommend_on_a_non_torch_model_never_imports_torch(tmp_path, kind):
    from torchmusic.recommend import recommender_class

    if kind == "als":
        pytest.importorskip("implicit")
    settings = {"als": {"factors": 2, "iterations": 2}}.get(kind, {})
    path = recommender_class(kind)(**settings).fit(_listening_data()).save(tmp_path / "r.st")
    (entry,) = _run(tmp_path, ["recommend", "--model", str(path), "--like", "Artist 1", "-k", "3"])
    _check(entry, forbidden=("torch", "torchmusic.models", "torchmusic.features"))


def _fresh_modules(*imports: str) -> list[str]:
    code = f"import sys, {', '.join(imports)}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()


def test_model_files_and_file_finding_are_torch_free():
    modules = _fresh_modules(
        "torchmusic.io", "torchmusic.io.container", "torchmusic.io.modelformat",
        "torchmusic.io.registry", "torchmusic.data.discover",
    )  # fmt: skip
    assert not _imported(
        set(modules), "torch", "scipy", "torchmusic.models", "torchmusic.data.cache"
    )
    modules = _fresh_modules("torchmusic.recommend.io", "torchmusic.recommend.catalog")
    assert not _imported(set(modules), "torch", "torchmusic.models", "torchmusic.features")


@pytest.fixture(scope="module")
def tiny_wav(tmp_path_factory) -> Path:
    import soundfile as sf

    path = tmp_path_factory.mktemp("audio") / "hit.wav"
    t = np.arange(11025) / 22050
    y = 0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-8 * t)
    sf.write(path, y.astype(np.float32), 22050)
    return path


def test_audio_commands_import_only_what_they_use(tmp_path, tiny_wav):
    predict, embed, info, similar = _run(
        tmp_path,
        ["predict", "--model", "drums", str(tiny_wav), "--no-progress"],
        ["embed", str(tiny_wav), "--model", "mfcc", "--catalog", "cat", "--no-progress"],
        ["catalog", "info", "--catalog", "cat"],
        ["similar", str(tiny_wav), "--catalog", "cat", "-k", "1"],
    )
    assert {"torch", "torchmusic.models.modelfile"} <= predict["modules"]  # the runner sees
    _check(predict, forbidden=("torchmusic.symbolic", "torchmusic.recommend", "torchmusic.embed"))
    _check(embed)
    _check(similar)
    # catalog info reads SQLite and the index file only: a fresh interpreter shows it.
    (info,) = _run(tmp_path, ["catalog", "info", "--catalog", "cat"])
    _check(info, forbidden=("torch", "torchmusic.models", "torchmusic.features"))


def test_generate_imports_only_what_it_uses(tmp_path):
    from torchmusic.pretrained import available_models

    if "folk" not in available_models():
        pytest.skip("the shipped folk model is not installed")
    (entry,) = _run(
        tmp_path,
        ["generate", "--model", "folk", "-n", "1", "--bars", "2", "--max-tokens", "48",
         "--no-wav", "--no-png", "--out", "gen"],
    )  # fmt: skip
    unused = ("torchmusic.serve", "torchmusic.recommend", "torchmusic.embed", "torchmusic.data")
    _check(entry, forbidden=(*unused, "torchmusic.features", "torchmusic.models.classify"))
