"""``torchmusic predict``: table, JSON and CSV output, folders, failures, exit codes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.torch
import soundfile as sf
import torch

import torchmusic.pretrained as pretrained
from torchmusic.cli.main import main
from torchmusic.features import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, clip_frames, save_classifier

FEATURE = FeatureConfig(n_mels=16, n_fft=512)
LABELS = ["kick", "snare", "hihat"]
GTZAN = "mir_clips/gtzan_genre/genres/country/country.00000.wav"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The model is tiny: extra intra-op threads only add synchronisation, which
    # costs seconds per call when the test machine's cores are busy.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    clip = 2.0
    model = build_classifier(
        "simple_cnn",
        n_mels=16,
        n_frames=clip_frames(clip, FEATURE),
        n_classes=3,
        channels=(2, 2),
        dense_units=8,
    )
    spec = ClassifierSpec("simple_cnn", {}, LABELS, False, FEATURE.to_dict(), clip)
    out = tmp_path_factory.mktemp("model") / "drums-test.safetensors"
    return save_classifier(out, model.eval(), spec)


def _tone(path: Path, seconds: float, sr: int = 22050) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "hits"
    root.mkdir()
    _tone(root / "one.wav", 0.7)
    _tone(root / "two.wav", 5.0)
    return root


def test_table_lists_top_k_per_file(model_file, shared_data, capsys):
    code = main(["predict", str(model_file), str(shared_data / GTZAN), "--top-k", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "simple_cnn" in out and "country.00000.wav" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("country.00000.wav"))
    assert "30.08s" in line and line.count("|") == 1  # two labels
    assert sum(label in line for label in LABELS) == 2


def test_json_output_with_timeline(model_file, folder, capsys):
    args = ["predict", "--model", str(model_file), str(folder), "--format", "json"]
    assert main([*args, "--timeline", "--no-progress", "--top-k", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["labels"] == LABELS and doc["clip_seconds"] == 2.0 and doc["failed"] == []
    tracks = {t["name"]: t for t in doc["tracks"]}
    assert set(tracks) == {"one.wav", "two.wav"}
    two = tracks["two.wav"]
    probs = [x["probability"] for x in two["labels"]]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1, abs=1e-5)
    spans = [(s["start"], s["end"]) for s in two["segments"]]
    assert spans == [(0.0, 2.0), (2.0, 4.0), (4.0, 5.0)]
    assert [(s["start"], s["end"]) for s in tracks["one.wav"]["segments"]] == [
        (0.0, pytest.approx(0.7, abs=1e-3))
    ]


def test_csv_output_to_file(model_file, folder, tmp_path, capsys):
    out = tmp_path / "out" / "preds.csv"
    args = ["predict", str(model_file), str(folder), "--format", "csv", "--out", str(out)]
    assert main([*args, "--timeline", "--top-k", "2", "--no-progress"]) == 0
    assert str(out) in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert set(rows[0]) == {"path", "name", "level", "start", "end", "rank", "label", "probability"}
    track_rows = [r for r in rows if r["level"] == "track"]
    assert len(track_rows) == 2 * 2  # two files, top 2
    two = [r for r in track_rows if r["name"] == "two.wav"]
    assert [r["rank"] for r in two] == ["1", "2"]
    assert float(two[0]["probability"]) >= float(two[1]["probability"])
    assert float(two[0]["end"]) == pytest.approx(5.0)
    segments = [r for r in rows if r["level"] == "segment" and r["name"] == "two.wav"]
    assert len(segments) == 3 * 2


def test_bad_file_in_folder_is_reported_and_fails_the_exit_code(model_file, folder, capsys):
    (folder / "zzz_broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    args = ["predict", str(model_file), str(folder), "--format", "json", "--no-progress"]
    assert main(args) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert len(doc["tracks"]) == 2
    assert [Path(f["path"]).name for f in doc["failed"]] == ["zzz_broken.wav"]
    assert "1 file(s) failed" in captured.err and "zzz_broken.wav" in captured.err
    assert main([*args, "--allow-failures"]) == 0


def test_model_must_come_first_or_via_flag(folder, capsys):
    assert main(["predict", str(folder / "one.wav"), str(folder / "two.wav")]) == 1
    assert "looks like an audio file" in capsys.readouterr().err


def test_empty_folder_is_an_error(model_file, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(model_file), str(tmp_path / "empty")]) == 1
    assert "no audio files found" in capsys.readouterr().err


def test_model_with_invalid_feature_settings_is_refused(model_file, folder, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    tensors = safetensors.torch.load(model_file.read_bytes())
    with safetensors.safe_open(str(model_file), framework="pt") as f:
        meta = dict(f.metadata())
    spec = json.loads(meta["spec"])
    spec["feature"]["n_mels"] = 5000  # more mel bands than FFT bins
    meta["spec"] = json.dumps(spec)
    meta["spec_sha256"] = hashlib.sha256(meta["spec"].encode()).hexdigest()
    bad.write_bytes(safetensors.torch.save(tensors, metadata=meta))
    assert main(["predict", str(bad), str(folder)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "invalid feature settings" in err and "n_mels=5000" in err


def test_missing_shipped_model_is_a_clear_error(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "pretrained_dir", lambda: tmp_path)
    assert main(["predict", "--model", "drums", str(folder / "one.wav")]) == 1
    assert "shipped model 'drums' is not installed" in capsys.readouterr().err


def test_shipped_model_by_name(model_file, folder, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "pretrained_dir", lambda: model_file.parent)
    monkeypatch.setitem(pretrained.PRETRAINED, "drums", model_file.name)
    assert main(["predict", "--model", "drums", str(folder / "one.wav"), "--top-k", "1"]) == 0
    out = capsys.readouterr().out
    assert "one.wav" in out and any(label in out for label in LABELS)


def test_unwritable_out_is_a_clear_error(model_file, folder, capsys):
    assert main(["predict", str(model_file), str(folder), "--out", str(folder)]) == 1
    assert "cannot write --out" in capsys.readouterr().err
