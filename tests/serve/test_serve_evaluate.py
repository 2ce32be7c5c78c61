"""evaluate_model on real recordings: figures, files, the predict path, splits, multi-label."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from torchmusic.data import ManifestDataset
from torchmusic.features.config import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, save_classifier
from torchmusic.models.modelfile import clip_frames, feature_bins
from torchmusic.serve import Predictor
from torchmusic.serve.evaluate import EvalReport, evaluate_model

FEATURE = FeatureConfig(kind="logmel", n_mels=32)
GENRES = "blues classical country disco hiphop jazz metal pop reggae rock".split()
ROWS = [  # (recording, label, split): speech vs music, no recording in two splits
    ("198-209-0000.ogg", "speech", "train"),
    ("3436-172162-0000.ogg", "speech", "train"),
    ("5703-47212-0000.ogg", "speech", "test"),
    ("admiralbob77_-_Choice_-_Drum-bass.ogg", "music", "train"),
    ("Hungarian_Dance_number_5_string_orchestra.ogg", "music", "train"),
    ("sorohanro_-_solo-trumpet-06.ogg", "music", "test"),
    ("147793__setuniman__sweet-waltz-0i-22mi.ogg", "music", "test"),
]


def tiny_cnn_file(path, labels, *, multi_label=False, feature=FEATURE, clip=1.0, seed=0):
    """A small randomly initialised SimpleCNN saved as a model file."""
    torch.manual_seed(seed)
    model = build_classifier(
        "simple_cnn",
        n_mels=feature_bins(feature),
        n_frames=clip_frames(clip, feature),
        n_classes=len(labels),
        channels=(4,),
        dense_units=8,
    )
    spec = ClassifierSpec("simple_cnn", {}, list(labels), multi_label, feature.to_dict(), clip)
    return save_classifier(path, model.eval(), spec)


@pytest.fixture(scope="module")
def speech_music(shared_data, tmp_path_factory):
    manifest = tmp_path_factory.mktemp("speech_music") / "tracks.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "split"])
        for name, label, split in ROWS:
            writer.writerow([shared_data / "recordings" / name, label, split])
    return manifest


@pytest.fixture(scope="module")
def short_manifest(shared_data, tmp_path_factory):
    """Two short recordings (20 s in all), for tests that only check bookkeeping."""
    manifest = tmp_path_factory.mktemp("short") / "tracks.csv"
    rec = shared_data / "recordings"
    manifest.write_text(
        "path,label\n"
        f"{rec / '5703-47212-0000.ogg'},speech\n"
        f"{rec / 'sorohanro_-_solo-trumpet-06.ogg'},music\n"
    )
    return manifest


@pytest.fixture(scope="module")
def baseline_file(speech_music, tmp_path_factory):
    """The MFCC baseline trained on the train split (through the training entry point)."""
    from torchmusic.training.classify.baseline import fit_baseline

    run = tmp_path_factory.mktemp("run")
    return fit_baseline(
        ManifestDataset(speech_music, split="train"),
        out_dir=run,
        feature={"kind": "mfcc", "n_mfcc": 13},
        clip_seconds=2.0,
        cache_dir=run / "cache",
        progress=False,
    )


@pytest.fixture(scope="module")
def gtzan_folder(shared_data, tmp_path_factory):
    """GTZAN's layout with the real GTZAN clip (valid split) and a stand-in blues track (test)."""
    root = tmp_path_factory.mktemp("gtzan") / "genres"
    (root / "country").mkdir(parents=True)
    (root / "blues").mkdir()
    (root / "country" / "country.00000.wav").symlink_to(
        shared_data / "mir_clips/gtzan_genre/genres/country/country.00000.wav"
    )
    (root / "blues" / "blues.00012.ogg").symlink_to(
        shared_data / "recordings/admiralbob77_-_Choice_-_Drum-bass.ogg"
    )
    lists = {
        s: shared_data / "gtzan_splits" / f"{s}_filtered.txt" for s in ("train", "valid", "test")
    }
    return root, lists


def test_trained_baseline_on_held_out_tracks(baseline_file, speech_music, tmp_path):
    report = evaluate_model(
        baseline_file, speech_music, split="test", out_dir=tmp_path / "eval", progress=False
    )
    assert isinstance(report, EvalReport)
    assert report.data["n_tracks"] == 3 and report.data["split"] == "test"
    assert report.data["label_counts"] == {"music": 2, "speech": 1}
    assert report.track["accuracy"] == 1.0 and report.track["macro_f1"] == 1.0
    assert report.clip["accuracy"] > 0.8  # chance: 0.5
    assert report.clip["n"] == report.data["n_clips"] == sum(r["n_clips"] for r in report.tracks)
    assert np.sum(report.clip["confusion"]) == report.data["n_clips"]
    assert report.model["architecture"] == "mfcc-svm" and report.model["file"] == str(baseline_file)
    # Files: the JSON holds the whole report, the PNGs are images.
    saved = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert saved["track"] == report.track and saved["files"] == report.files
    for key in ("confusion", "confusion_clip"):
        assert open(report.files[key], "rb").read(4) == b"\x89PNG"
    # Track probabilities are those `torchmusic predict` gives (one prediction path).
    predictor = Predictor(baseline_file)
    for row in report.tracks:
        expected = predictor.predict_file(row["path"]).probabilities
        assert row["probabilities"] == pytest.approx(expected, abs=1e-6)
        assert row["predicted"] == row["labels"][0]


def test_figures_agree_with_the_track_rows(short_manifest, tmp_path):
    model = tiny_cnn_file(tmp_path / "cnn.safetensors", ["music", "speech"])
    report = evaluate_model(model, short_manifest, progress=False)
    hits = [r["predicted"] == r["labels"][0] for r in report.tracks]
    assert report.track["accuracy"] == pytest.approx(np.mean(hits))
    assert np.sum(report.track["confusion"]) == len(report.tracks) == 2
    per_class = report.track["per_class"]
    assert per_class["music"]["support"] == 1 and per_class["speech"]["support"] == 1
    # A shorter hop gives overlapping windows: more clips, same tracks.
    dense = evaluate_model(model, short_manifest, hop_seconds=0.5, progress=False)
    assert dense.data["n_clips"] > report.data["n_clips"] and dense.data["hop_seconds"] == 0.5
    text = report.summary()
    assert "accuracy" in text and "per class (track level)" in text and "speech" in text


def test_gtzan_folder_with_split_lists(gtzan_folder, tmp_path):
    root, lists = gtzan_folder
    model = tiny_cnn_file(tmp_path / "gtzan.safetensors", GENRES, clip=3.0)
    report = evaluate_model(model, root, split="valid", split_lists=lists, progress=False)
    assert [r["track_id"] for r in report.tracks] == ["country/country.00000"]
    assert report.data["n_clips"] == 11  # 30.01 s in 3 s windows, the last one padded
    # Only two of GTZAN's 930 listed files are here; the rest is counted, not an error.
    assert report.data["unmatched_split_entries"] == {"train": 443, "valid": 196, "test": 289}
    test = evaluate_model(model, root, split="test", split_lists=lists, progress=False)
    assert [r["labels"] for r in test.tracks] == [["blues"]]
    one = evaluate_model(model, root, split_lists={"valid": lists["valid"]}, progress=False)
    assert one.data["split"] == "valid" and one.data["n_tracks"] == 1


def test_multi_label_report(shared_data, tmp_path):
    rec = shared_data / "recordings"
    rows = [
        (rec / "198-209-0000.ogg", ["speech", "voice"]),
        (rec / "5703-47212-0000.ogg", ["speech", "voice"]),
        (rec / "sorohanro_-_solo-trumpet-06.ogg", ["music", "brass"]),
        (rec / "admiralbob77_-_Choice_-_Drum-bass.ogg", ["music"]),
    ]
    manifest = tmp_path / "tags.jsonl"
    manifest.write_text("".join(json.dumps({"path": str(p), "tags": t}) + "\n" for p, t in rows))
    labels = ["brass", "music", "speech", "voice", "whale"]
    model = tiny_cnn_file(tmp_path / "tagger.safetensors", labels, multi_label=True)
    report = evaluate_model(
        model, manifest, label_column="tags", out_dir=tmp_path / "eval", progress=False
    )
    assert report.multi_label and report.data["label_column"] == "tags"
    track = report.track
    # whale never occurs: its AUCs are undefined and it is left out of the means.
    assert "whale" in track["skipped"] and track["per_class"]["whale"]["roc_auc"] is None
    aucs = [track["per_class"][c]["roc_auc"] for c in ("brass", "music", "speech", "voice")]
    assert track["roc_auc_macro"] == pytest.approx(np.mean(aucs))
    assert 0.0 <= track["pr_auc_macro"] <= 1.0
    assert report.clip["n"] == report.data["n_clips"]
    assert all(isinstance(r["predicted"], list) for r in report.tracks)
    assert set(report.files) == {"report"}  # no confusion matrix for tags
    assert "ROC-AUC" in report.summary()
    json.loads((tmp_path / "eval" / "report.json").read_text())


def test_evaluation_does_not_import_lightning(short_manifest, tmp_path):
    model = tiny_cnn_file(tmp_path / "cnn.safetensors", ["music", "speech"])
    code = (
        "import sys\n"
        "from torchmusic.serve.evaluate import evaluate_model\n"
        f"evaluate_model({str(model)!r}, {str(short_manifest)!r}, progress=False)\n"
        "print('lightning' in sys.modules, 'pytorch_lightning' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"
