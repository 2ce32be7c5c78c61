"""fit_baseline: the "mfcc-svm" training path on a tiny real two-class set (speech vs music)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from torchmusic.data import ManifestDataset
from torchmusic.errors import ParameterError
from torchmusic.models import load_classifier, read_spec
from torchmusic.models.baseline import MFCCStats
from torchmusic.serve import Predictor
from torchmusic.training import TrainConfig
from torchmusic.training.classify.baseline import baseline_feature, fit_baseline

# (recording, label, split): speakers and pieces never straddle train and test.
ROWS = [
    ("198-209-0000.ogg", "speech", "train"),
    ("3436-172162-0000.ogg", "speech", "train"),
    ("5703-47212-0000.ogg", "speech", "test"),
    ("admiralbob77_-_Choice_-_Drum-bass.ogg", "music", "train"),
    ("Hungarian_Dance_number_5_string_orchestra.ogg", "music", "train"),
    ("sorohanro_-_solo-trumpet-06.ogg", "music", "test"),
    ("147793__setuniman__sweet-waltz-0i-22mi.ogg", "music", "test"),
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One feature cache for the module: each recording's MFCCs are computed once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def speech_music(shared_data, tmp_path_factory):
    """A manifest of real recordings labelled speech / music, with a train / test split."""
    root = tmp_path_factory.mktemp("speech_music")
    manifest = root / "tracks.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "split"])
        for name, label, split in ROWS:
            writer.writerow([shared_data / "recordings" / name, label, split])
    return manifest


def _cfg(tmp_path, manifest, cache_dir, **model_config):
    return TrainConfig(
        data=str(manifest),
        model="mfcc-svm",
        model_config=model_config,
        feature={"kind": "logmel", "n_mfcc": 13},  # the baseline switches the kind to mfcc
        clip_seconds=2.0,
        out_dir=str(tmp_path / "run"),
        cache_dir=str(cache_dir),
    )


def _kw(tmp_path, cache_dir, **model_config):
    """The keyword settings of fit_baseline that _cfg describes."""
    return dict(
        out_dir=tmp_path / "run",
        feature={"kind": "logmel", "n_mfcc": 13},
        clip_seconds=2.0,
        cache_dir=cache_dir,
        model_config=model_config,
        progress=False,
    )


def test_trained_baseline_beats_chance_on_held_out_tracks(speech_music, tmp_path, cache_dir):
    ds = ManifestDataset(speech_music)
    path = fit_baseline(ds.split("train"), ds.split("test"), **_kw(tmp_path, cache_dir))
    assert path == tmp_path / "run" / "model.safetensors"
    model, spec = load_classifier(path)
    assert isinstance(model, MFCCStats)
    assert spec.architecture == "mfcc-svm" and spec.labels == ["music", "speech"]
    assert spec.feature["kind"] == "mfcc" and spec.feature["n_mfcc"] == 13
    assert spec.clip_seconds == 2.0
    # Held-out clips (the "validation" here is the held-out test split): chance is 0.5.
    assert spec.metrics["val_clip_macro_f1"] > 0.75
    assert spec.metrics["val_accuracy"] == 1.0  # 3 held-out tracks, all right
    assert spec.metrics["n_train_clips"] > 20
    # The model file predicts a held-out recording on the `torchmusic predict` path.
    speech = Predictor(path).predict_file(ds.split("test").tracks[0].path)
    assert speech.labels[0][0] == "speech"


def test_c_grid_picks_one_value_on_validation(speech_music, tmp_path, cache_dir):
    ds = ManifestDataset(speech_music)
    kw = _kw(tmp_path, cache_dir, C=[0.01, 1.0], classifier="svm")
    path = fit_baseline(ds.split("train"), ds.split("test"), **kw)
    spec = read_spec(path)
    assert spec.model_config["C"] in (0.01, 1.0)
    assert spec.model_config["gamma"] == "scale"


def test_logreg_variant(speech_music, tmp_path, cache_dir):
    ds = ManifestDataset(speech_music)
    path = fit_baseline(ds.split("train"), **_kw(tmp_path, cache_dir, classifier="logreg", C=1.0))
    model, spec = load_classifier(path)
    assert spec.model_config["classifier"] == "logreg"
    assert "val_accuracy" not in spec.metrics and spec.metrics["train_accuracy"] > 0.9
    assert model.coef.shape == (2, 52)


def test_bad_settings_are_refused(speech_music, tmp_path, cache_dir):
    ds = ManifestDataset(speech_music)
    with pytest.raises(ParameterError, match=r"unknown mfcc-svm setting\(s\) \['dropout'\]"):
        fit_baseline(ds, None, **_kw(tmp_path, cache_dir, dropout=0.5))
    with pytest.raises(ParameterError, match="needs a validation split"):
        fit_baseline(ds, None, **_kw(tmp_path, cache_dir, C=[1, 10]))
    multi = ManifestDataset(speech_music, multi_label=True)
    with pytest.raises(ParameterError, match="single-label"):
        fit_baseline(multi, None, **_kw(tmp_path, cache_dir))
    with pytest.raises(ParameterError, match="needs out_dir"):
        fit_baseline(ds, None, progress=False)


def test_unreadable_training_file_is_skipped_and_recorded(speech_music, tmp_path, cache_dir):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF" + bytes(100))
    rows = speech_music.read_text().splitlines()
    manifest = tmp_path / "with_bad.csv"
    manifest.write_text("\n".join([*rows, f"{bad},music,train"]) + "\n")
    ds = ManifestDataset(manifest)
    with pytest.warns(UserWarning, match="1 unreadable file"):
        path = fit_baseline(ds.split("train"), None, **_kw(tmp_path, cache_dir))
    skipped = read_spec(path).extra["skipped_files"]
    assert [s["path"] for s in skipped] == [str(bad)]
    assert json.dumps(skipped)  # JSON-able


def test_old_config_form_still_works_with_a_warning(speech_music, tmp_path, cache_dir):
    ds = ManifestDataset(speech_music)
    cfg = _cfg(tmp_path, speech_music, cache_dir, classifier="logreg", C=1.0)
    with pytest.warns(FutureWarning, match="fit_baseline\\(cfg, train, valid\\) is deprecated"):
        path = fit_baseline(cfg, ds.split("train"), None, progress=False)
    assert path == tmp_path / "run" / "model.safetensors"
    assert read_spec(path).model_config["classifier"] == "logreg"


def test_baseline_feature_keeps_settings_but_computes_mfcc():
    f = baseline_feature({"kind": "logmel", "n_mels": 40, "hop_length": 256})
    assert (f.kind, f.n_mels, f.hop_length) == ("mfcc", 40, 256)
    assert baseline_feature(None).kind == "mfcc"
    assert np.isclose(baseline_feature({"kind": "mfcc", "fmin": 30.0}).fmin, 30.0)
