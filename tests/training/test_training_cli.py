"""``torchmusic train classify`` end to end, the recipes, and its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from torchmusic.cli.main import main
from torchmusic.cli.train_cmd import _devices
from torchmusic.models import load_classifier

REPO = Path(__file__).resolve().parents[2]


def test_cli_trains_the_demo_recipe_end_to_end(
    tmp_path, capsys, demo_manifest, feature_cache, tiny_cli_args
):
    run = tmp_path / "run"
    code = main(
        [
            "train", "classify",
            "--data", str(demo_manifest.parent),  # the corpus folder: read via its manifest
            "--arch", "shortchunk",
            "--config", str(REPO / "configs" / "demo.yaml"),
            "--max_epochs", "1",
            "--out", str(run),
            "--no-progress",
            *tiny_cli_args("shortchunk"),
            "--clips_per_track", "1",
            "--cache_dir", str(feature_cache),
            "--augment.mixup", "0.2",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert f"model file: {run / 'model.safetensors'}" in out
    assert "val_macro_f1" in out and "test_acc" in out
    _, spec = load_classifier(run / "model.safetensors")
    assert spec.labels == ["jig", "reel"]  # tune_type, from the recipe
    saved = (run / "config.yaml").read_text()
    assert "mixup: 0.2" in saved and "label_column: tune_type" in saved


def test_cli_reports_skipped_corrupt_files(
    tmp_path, capsys, speech_music, feature_cache, tiny_cli_args
):
    root = tmp_path / "root"
    shutil.copytree(speech_music, root)
    (root / "speech" / "truncated.wav").write_bytes(
        (root / "speech").iterdir().__next__().read_bytes()[:30]
    )
    code = main(
        [
            "train", "classify",
            "--data", str(root),
            "--arch", "crnn",
            "--out", str(tmp_path / "run"),
            "--no-progress",
            *tiny_cli_args("crnn"),
            "--max_epochs", "1",
            "--split_fractions", "{train: 0.6, valid: 0.4}",
            "--cache_dir", str(feature_cache),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    assert "skipped 1 file(s) that could not be decoded (training goes on)" in captured.err
    assert "skipped 1 undecodable file(s)" in captured.err
    assert "truncated.wav" in captured.err
    summary = json.loads((tmp_path / "run" / "data.json").read_text())
    assert [Path(s["path"]).name for s in summary["skipped"]] == ["truncated.wav"]
    assert sum(summary["tracks"].values()) == 12


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--max_epoch", "1"], "unknown setting 'max_epoch'; did you mean 'max_epochs'"),
        (["--batch_size", "zero"], "batch_size='zero' has the wrong type"),
        (["--arch", "vgg"], "model='vgg' is not an architecture"),
    ],
)
def test_cli_bad_settings_exit_1_with_a_message(tmp_path, capsys, speech_music, extra, message):
    code = main(["train", "classify", "--data", str(speech_music), "--out", str(tmp_path), *extra])
    assert code == 1
    assert message in capsys.readouterr().err


def test_cli_single_class_folder(tmp_path, capsys, speech_music):
    shutil.copytree(speech_music / "music", tmp_path / "one" / "music")
    code = main(
        ["train", "classify", "--data", str(tmp_path / "one"), "--out", str(tmp_path / "r")]
    )
    assert code == 1
    assert "a classifier needs at least 2 classes" in capsys.readouterr().err
    assert not (tmp_path / "r" / "model.safetensors").exists()


def test_devices_flag_parsing():
    assert _devices("2") == 2
    assert _devices("0,1") == [0, 1]
    assert _devices("auto") == "auto"
    assert _devices(None) is None


def test_gtzan_recipe_on_a_gtzan_shaped_folder(
    tmp_path, capsys, shared_data, feature_cache, tiny_cli_args, write_excerpt
):
    """configs/gtzan.yaml with the real filtered split lists, on a GTZAN-shaped folder
    holding the real GTZAN clip and excerpts of real recordings named like GTZAN."""
    genres = tmp_path / "genres"
    real = shared_data / "mir_clips" / "gtzan_genre" / "genres" / "country" / "country.00000.wav"
    (genres / "country").mkdir(parents=True)
    shutil.copy(real, genres / "country" / "country.00000.wav")  # valid (filtered lists)
    for name, offset in (("00019", 3.0), ("00020", 9.0), ("00001", 15.0), ("00030", 21.0)):
        write_excerpt(real, genres / "country" / f"country.{name}.wav", offset=offset, seconds=2.5)
    orchestra = shared_data / "recordings" / "Hungarian_Dance_number_5_string_orchestra.ogg"
    for name, offset in (("00030", 0.0), ("00031", 4.0), ("00000", 8.0), ("00011", 12.0)):
        write_excerpt(
            orchestra, genres / "classical" / f"classical.{name}.wav", offset=offset, seconds=2.5
        )
    run = tmp_path / "run"
    code = main(
        [
            "train", "classify",
            "--config", str(REPO / "configs" / "gtzan.yaml"),
            "--data", str(genres),
            "--arch", "simple_cnn",
            "--out", str(run),
            "--no-progress",
            *tiny_cli_args("simple_cnn"),
            "--max_epochs", "1",
            "--clips_per_track", "1",
            "--split_lists_allow_missing", "true",  # the lists name all 930 tracks
            "--cache_dir", str(feature_cache),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    summary = json.loads((run / "data.json").read_text())
    assert summary["classes"] == ["classical", "country"]
    assert summary["tracks"] == {"train": 4, "valid": 3, "test": 2}
    _, spec = load_classifier(run / "model.safetensors")
    assert spec.extra["tracks"] == {"train": 4, "valid": 3, "test": 2}


def test_cli_trains_the_mfcc_baseline_through_the_same_command(
    tmp_path, capsys, speech_music, feature_cache
):
    run = tmp_path / "run"
    code = main(
        [
            "train", "classify",
            "--data", str(speech_music),
            "--arch", "mfcc-svm",
            "--out", str(run),
            "--no-progress",
            "--clip_seconds", "1.0",
            "--split_fractions", "{train: 0.6, valid: 0.4}",
            "--cache_dir", str(feature_cache),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert f"model file: {run / 'model.safetensors'}" in capsys.readouterr().out
    _, spec = load_classifier(run / "model.safetensors")
    assert spec.architecture == "mfcc-svm"
    assert spec.labels == ["music", "speech"]
    assert 0.0 <= spec.metrics["val_accuracy"] <= 1.0
