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


def test_files_after_an_option_are_still_paths(shared_data, tmp_path):
    # argparse alone would reject `a.ogg` after `--top-k 1` as an unknown argument.
    files = sorted((shared_data / "recordings").glob("*.ogg"))[:2]
    out = tmp_path / "pred.json"
    argv = ["predict", "drums", str(files[0]), "--top-k", "1", "--no-progress", str(files[1])]
    assert main([*argv, "--format", "json", "--out", str(out)]) == 0
    tracks = json.loads(out.read_text())["tracks"]
    assert [Path(t["path"]).name for t in tracks] == [files[0].name, files[1].name]
    assert all(len(t["labels"]) == 1 for t in tracks)


def test_unknown_option_is_still_a_usage_error(shared_data):
    f = next((shared_data / "recordings").glob("*.ogg"))
    with pytest.raises(SystemExit) as exc:
        main(["predict", "drums", str(f), "--no-such-flag"])
    assert exc.value.code == 2
