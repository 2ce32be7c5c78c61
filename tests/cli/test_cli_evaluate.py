"""``torchmusic evaluate``: summary table, report files, exit codes and messages."""

from __future__ import annotations

import json

import pytest
import torch

from torchmusic.cli.evaluate_cmd import parse_split_lists
from torchmusic.cli.main import main
from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, save_classifier
from torchmusic.models.modelfile import clip_frames, feature_bins

FEATURE = FeatureConfig(kind="logmel", n_mels=32)


def tiny_cnn_file(path, labels, *, clip=1.0):
    torch.manual_seed(0)
    model = build_classifier(
        "simple_cnn",
        n_mels=feature_bins(FEATURE),
        n_frames=clip_frames(clip, FEATURE),
        n_classes=len(labels),
        channels=(4,),
        dense_units=8,
    )
    spec = ClassifierSpec("simple_cnn", {}, list(labels), False, FEATURE.to_dict(), clip)
    return save_classifier(path, model.eval(), spec)


@pytest.fixture
def data(shared_data, tmp_path):
    """A class folder: the real GTZAN clip (country) and a trumpet solo (jazz)."""
    root = tmp_path / "genres"
    (root / "country").mkdir(parents=True)
    (root / "jazz").mkdir()
    (root / "country" / "country.00000.wav").symlink_to(
        shared_data / "mir_clips/gtzan_genre/genres/country/country.00000.wav"
    )
    (root / "jazz" / "jazz.00001.ogg").symlink_to(
        shared_data / "recordings/sorohanro_-_solo-trumpet-06.ogg"
    )
    return root


def test_evaluate_prints_a_table_and_writes_the_report(data, tmp_path, capsys):
    model = tiny_cnn_file(tmp_path / "m.safetensors", ["country", "jazz", "rock"], clip=3.0)
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), "--data", str(data), "--out", str(out), "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "macro-F1" in text and "per class (track level)" in text
    assert "2 tracks" in text and "report.json" in text
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["n_tracks"] == 2 and report["data"]["label_counts"] == {
        "country": 1,
        "jazz": 1,
    }
    assert (out / "confusion.png").is_file() and (out / "confusion_clip.png").is_file()


def test_split_lists_flag(data, tmp_path, capsys):
    model = tiny_cnn_file(tmp_path / "m.safetensors", ["country", "jazz"])
    test_list = tmp_path / "test.txt"
    test_list.write_text("jazz/jazz.00001.wav\n")  # extensions are ignored when matching
    train_list = tmp_path / "train.txt"
    train_list.write_text("country/country.00000.wav\n")
    argv = ["evaluate", str(model), "--data", str(data), "--no-progress", "--split", "test"]
    argv += ["--split-lists", f"test={test_list}", f"train={train_list}"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[split test]: 1 tracks" in out


def test_skipped_files_are_listed_on_stderr(data, tmp_path, capsys):
    (data / "jazz" / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    model = tiny_cnn_file(tmp_path / "m.safetensors", ["country", "jazz"])
    # Skipped files fail the run (exit 1), as in predict / features / embed (issue 10).
    assert main(["evaluate", str(model), "--data", str(data), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "1 file(s) skipped" in captured.err and "broken.wav" in captured.err


def test_errors_exit_1_with_a_message(data, tmp_path, capsys):
    model = tiny_cnn_file(tmp_path / "m.safetensors", ["country", "rock"])
    assert main(["evaluate", str(model), "--data", str(data), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "['jazz']" in err and "['country', 'rock']" in err
    argv = ["evaluate", str(model), "--data", str(data), "--split-lists", "test.txt"]
    assert main(argv) == 1
    assert "NAME=FILE" in capsys.readouterr().err


def test_parse_split_lists():
    assert parse_split_lists(None) is None
    assert parse_split_lists(["test=a.txt", "valid = b.txt"]) == {"test": "a.txt", "valid": "b.txt"}
    with pytest.raises(ParameterError, match="twice"):
        parse_split_lists(["test=a.txt", "test=b.txt"])
