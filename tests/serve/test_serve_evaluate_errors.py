"""evaluate_model on bad input: clear errors naming both sides, bad files skipped and listed."""

from __future__ import annotations

import csv

import pytest
import torch

from torchmusic.data import ManifestDataset
from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, save_classifier
from torchmusic.models.modelfile import clip_frames, feature_bins
from torchmusic.serve.evaluate import evaluate_model

FEATURE = FeatureConfig(kind="logmel", n_mels=32)


def tiny_cnn_file(path, labels, *, multi_label=False, feature=FEATURE, clip=1.0):
    torch.manual_seed(0)
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


def write_manifest(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label"])
        writer.writerows(rows)
    return path


@pytest.fixture
def recordings(shared_data):
    rec = shared_data / "recordings"
    return {
        "speech": rec / "5703-47212-0000.ogg",
        "music": rec / "sorohanro_-_solo-trumpet-06.ogg",
    }


@pytest.fixture
def model_file(tmp_path):
    return tiny_cnn_file(tmp_path / "model.safetensors", ["music", "speech"])


def test_bad_and_missing_files_are_skipped_and_listed(recordings, model_file, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    missing = tmp_path / "gone.ogg"
    manifest = write_manifest(
        tmp_path / "m.csv",
        [
            (recordings["speech"], "speech"),
            (corrupt, "music"),
            (recordings["music"], "music"),
            (missing, "speech"),
        ],
    )
    report = evaluate_model(model_file, manifest, progress=False)
    assert [s["path"] for s in report.skipped] == [str(corrupt), str(missing)]
    assert all(s["error"] for s in report.skipped)
    assert report.data["n_tracks"] == 2 and report.data["n_skipped"] == 2
    assert "2 file(s) skipped" in report.summary()


def test_nothing_readable_is_an_error(model_file, tmp_path):
    manifest = write_manifest(tmp_path / "m.csv", [(tmp_path / "nope.wav", "music")])
    with pytest.raises(DataError, match=r"none of the 1 tracks.*nope\.wav"):
        evaluate_model(model_file, manifest, progress=False)


def test_feature_settings_mismatch_names_both(recordings, model_file, tmp_path):
    manifest = write_manifest(tmp_path / "m.csv", [(recordings["speech"], "speech")])
    with pytest.raises(DataError, match=r"model\.safetensors.*n_mels: model 32, requested 64"):
        evaluate_model(model_file, manifest, features=FeatureConfig(n_mels=64), progress=False)
    # A dataset that carries other features is refused the same way.
    ds = ManifestDataset(manifest, features=FeatureConfig(kind="mfcc", n_mels=32))
    with pytest.raises(DataError, match=r"kind: model 'logmel', requested 'mfcc'"):
        evaluate_model(model_file, ds, progress=False)
    # The matching settings pass.
    report = evaluate_model(model_file, manifest, features=FEATURE.to_dict(), progress=False)
    assert report.data["n_tracks"] == 1


def test_labels_the_model_does_not_know_name_both(recordings, tmp_path):
    model = tiny_cnn_file(tmp_path / "m.safetensors", ["music", "whale"])
    manifest = write_manifest(
        tmp_path / "m.csv", [(recordings["speech"], "speech"), (recordings["music"], "music")]
    )
    with pytest.raises(DataError, match=r"\['speech'\].*\['music', 'whale'\]"):
        evaluate_model(model, manifest, progress=False)


def test_several_labels_for_a_single_label_model(recordings, model_file, tmp_path):
    manifest = write_manifest(tmp_path / "m.csv", [(recordings["speech"], "speech;music")])
    with pytest.raises(DataError, match=r"single-label.*'speech', 'music'"):
        evaluate_model(model_file, manifest, progress=False)


def test_split_errors(recordings, model_file, tmp_path):
    folder = tmp_path / "genres"
    (folder / "music").mkdir(parents=True)
    (folder / "music" / "a.ogg").symlink_to(recordings["music"])
    with pytest.raises(DataError, match=r"split 'test'.*give split lists"):
        evaluate_model(model_file, folder, split="test", progress=False)
    lists = {"train": ["music/a.ogg"], "test": []}
    with pytest.raises(ParameterError, match=r"\['test', 'train'\].*--split"):
        evaluate_model(model_file, folder, split_lists=lists, progress=False)
    with pytest.raises(ParameterError, match="needs a manifest"):
        evaluate_model(model_file, folder, label_column="genre", progress=False)
    with pytest.raises(DataError, match="does not exist"):
        evaluate_model(model_file, tmp_path / "nowhere", progress=False)
