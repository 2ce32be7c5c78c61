"""The shipped drum-hit model: ``torchmusic predict --model drums kick.wav`` works offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchmusic.cli.main import main
from torchmusic.models.modelfile import read_spec
from torchmusic.pretrained import resolve_model

KIT = Path("/usr/share/hydrogen/data/drumkits/ElectricEmpireKit")
CLASSES = {"kick", "snare", "hihat", "tom", "crash", "ride", "clap", "other_percussion"}


def test_shipped_drums_model_is_small_and_labelled():
    path = resolve_model("drums")
    assert path.stat().st_size <= 10 * 2**20
    spec = read_spec(path)
    assert set(spec.labels) == CLASSES and not spec.multi_label


def test_predict_with_shipped_drums_model(tmp_path, capsys):
    if not KIT.is_dir():
        pytest.skip(f"{KIT} not found (apt-get install hydrogen-drumkits)")
    out = tmp_path / "pred.json"
    files = [str(KIT / "EE_Kick_Low_1.flac"), str(KIT / "EE_Snare_1.flac")]
    args = ["predict", "--model", "drums", *files, "--format", "json", "--out", str(out)]
    assert main([*args, "--no-progress"]) == 0
    tracks = json.loads(out.read_text())["tracks"]
    assert [t["labels"][0]["label"] for t in tracks] == ["kick", "snare"]
    for t in tracks:
        assert abs(sum(p["probability"] for p in t["labels"]) - 1) < 0.5
