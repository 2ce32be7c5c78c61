"""``torchmusic train lm``: token models from a MIDI folder, pianoroll dispatch, bad input."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from torchmusic.cli.main import main

TINY_LSTM = [
    "--model_config.n_embd",
    "16",
    "--model_config.hidden",
    "32",
    "--model_config.n_layers",
    "1",
]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def folk_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("music21")
    from torchmusic.symbolic import build_folk_corpus

    # Same folder and selection as tests/training/test_training_lm.py: built once.
    out = tmp_path_factory.getbasetemp() / "lm-folk-tiny"
    build_folk_corpus(out, collections="oneills,aird", limit=5, workers=1, progress=False)
    return out


def _common(run: Path) -> list[str]:
    return [
        "--out", str(run), "--no-progress", "--accelerator", "cpu", "--devices", "1",
        "--seq_len", "64", "--batch_size", "4", "--max_steps", "2", "--tokenize_workers", "0",
    ]  # fmt: skip


def test_train_lm_writes_a_model_and_reports_bad_midi(tmp_path, folk_tiny, capsys):
    data = tmp_path / "folk"
    shutil.copytree(folk_tiny, data)
    rows = list(csv.DictReader((data / "metadata.csv").open()))
    bad = data / next(r for r in rows if r["split"] == "train")["path"]
    bad.write_bytes(b"")  # an empty file is not MIDI
    run = tmp_path / "run"
    rc = main(["train", "lm", "--data", str(data), "--arch", "lstm", *_common(run), *TINY_LSTM])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "skipped 1 unusable MIDI file(s)" in err and bad.name in err
    assert f"model file: {run / 'model.safetensors'}" in out
    assert "test_nats_per_token" in out

    from torchmusic.models.symbolic import read_generator_spec

    spec = read_generator_spec(run / "model.safetensors")
    assert (spec.architecture, spec.kind) == ("lstm", "tokens")
    assert spec.extra["train_config"]["max_steps"] == 2


def test_train_lm_uses_the_recipe_and_overrides(tmp_path, folk_tiny, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: transformer\nconditions: [tune_type]\ncondition_min_count: 1\n")
    run = tmp_path / "run"
    rc = main([
        "train", "lm", "--data", str(folk_tiny), "--config", str(recipe), *_common(run),
        "--model_config.n_layer", "1", "--model_config.n_embd", "16", "--model_config.n_head", "2",
    ])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    saved = json.loads((run / "data.json").read_text())
    assert "reel" in saved["conditions"]["fields"]["tune_type"]


def test_train_lm_bad_settings_are_clear_errors(tmp_path, folk_tiny, capsys):
    rc = main(
        ["train", "lm", "--data", str(folk_tiny), "--arch", "gpt9", "--out", str(tmp_path / "r")]
    )
    assert rc == 1
    assert "model='gpt9' is not a token model" in capsys.readouterr().err
    rc = main(
        ["train", "lm", "--data", str(folk_tiny), "--seqlen", "3", "--out", str(tmp_path / "r")]
    )
    assert rc == 1
    assert "did you mean 'seq_len'" in capsys.readouterr().err
    rc = main(["train", "lm", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")])
    assert rc == 1
    assert "no such folder" in capsys.readouterr().err


def _tiny_jsb(path: Path) -> Path:
    rng = np.random.default_rng(0)

    def piece(frames: int) -> list[list[int]]:
        root = 48 + int(rng.integers(0, 12))
        return [
            sorted({root, root + 4, root + 7, root + 12 + int(rng.integers(0, 5))})
            for _ in range(frames)
        ]

    data = {
        "train": [piece(16) for _ in range(6)],
        "valid": [piece(12)] * 2,
        "test": [piece(12)] * 2,
    }
    path.write_text(json.dumps(data))
    return path


def test_train_lm_dispatches_pianoroll(tmp_path, capsys):
    data = _tiny_jsb(tmp_path / "jsb.json")
    run = tmp_path / "run"
    rc = main([
        "train", "lm", "--data", str(data), "--out", str(run), "--no-progress",
        "--accelerator", "cpu", "--devices", "1", "--max_epochs", "1", "--max_minutes", "null",
        "--batch_size", "4", "--model_config.time_hidden", "0", "--model_config.frame_hidden", "16",
        "--model_config.frame_proj", "8", "--model_config.note_hidden", "8",
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "test_nll" in out  # the piano-roll trainer's figure (nats per frame)

    from torchmusic.models.symbolic import read_generator_spec

    assert read_generator_spec(run / "model.safetensors").kind == "pianoroll"
