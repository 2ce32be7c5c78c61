"""The MFCC-statistics baseline as a torch module: equal to scikit-learn, saved like any model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from torchmusic import audio
from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.models import (
    CLASSIFIERS,
    ClassifierSpec,
    build_classifier,
    load_classifier,
    save_classifier,
)
from torchmusic.models.baseline import (
    ABSENT_LOGIT,
    MFCCStats,
    MFCCStatsConfig,
    clip_statistics,
)
from torchmusic.serve import Predictor
from torchmusic.training.classify.baseline import fit_mfcc_stats, fit_sklearn_baseline

MFCC = FeatureConfig(kind="mfcc", n_mfcc=13)
RECORDINGS = [
    "198-209-0000.ogg",  # speech
    "admiralbob77_-_Choice_-_Drum-bass.ogg",  # drums and bass
    "sorohanro_-_solo-trumpet-06.ogg",  # trumpet
    "glacier-bay-humpback.ogg",  # whale
]


@pytest.fixture(scope="module")
def real_mfcc(shared_data):
    """MFCCs of 0.5 s windows of four real recordings (first 12 s each), labelled by recording."""
    feats, labels = [], []
    n = round(0.5 * MFCC.sr)
    for k, name in enumerate(RECORDINGS):
        y, _ = audio.load(shared_data / "recordings" / name, sr=MFCC.sr, duration=12.0)
        windows = y[: len(y) // n * n].reshape(-1, n)
        feats.append(MFCC.compute(windows).double())
        labels += [k] * windows.shape[0]
    return torch.cat(feats), np.asarray(labels)


def _split(x, y):
    """Every third window held out."""
    held = np.arange(len(y)) % 3 == 0
    return x[~held], y[~held], x[held], y[held]


@pytest.mark.parametrize("classifier", ["svm", "logreg"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_forward_reproduces_sklearn_predict_on_held_out_clips(real_mfcc, classifier, n_classes):
    x, y = real_mfcc
    keep = y < n_classes
    x_train, y_train, x_test, _ = _split(x[keep], y[keep])
    scaler, est = fit_sklearn_baseline(
        clip_statistics(x_train).numpy(), y_train, classifier=classifier, C=1.0
    )
    model = MFCCStats.from_sklearn(scaler, est, n_classes=n_classes)
    z = scaler.transform(clip_statistics(x_test).numpy())
    scores = model(x_test)
    assert scores.shape == (len(x_test), n_classes) and scores.dtype == torch.float64
    np.testing.assert_array_equal(scores.argmax(1).numpy(), est.predict(z))
    if classifier == "logreg":
        np.testing.assert_allclose(
            torch.softmax(scores, 1).numpy(), est.predict_proba(z), atol=1e-12
        )
    elif n_classes > 2:
        np.testing.assert_allclose(scores.numpy(), est.decision_function(z), atol=1e-9)
    else:  # two classes: scikit-learn's decision is positive for class 1
        d = est.decision_function(z)
        np.testing.assert_array_equal(scores.argmax(1).numpy(), (d > 0).astype(int))
    # The held-out clips are not trivially all one class.
    assert len(np.unique(est.predict(z))) > 1


def test_default_svc_predict_agrees_too(real_mfcc):
    # Our SVC uses break_ties=True; a plain SVC (libsvm voting) agrees wherever the
    # vote has a unique winner, i.e. almost everywhere on real data.
    x, y = real_mfcc
    x_train, y_train, x_test, _ = _split(x, y)
    stats = clip_statistics(x_train).numpy()
    scaler = StandardScaler().fit(stats)
    plain = SVC(kernel="rbf", C=10.0, gamma=0.05).fit(scaler.transform(stats), y_train)
    model = MFCCStats.from_sklearn(scaler, plain, n_classes=4)
    agree = model(x_test).argmax(1).numpy() == plain.predict(
        scaler.transform(clip_statistics(x_test).numpy())
    )
    assert agree.mean() > 0.95


def test_model_beats_chance_on_held_out_clips(real_mfcc):
    x, y = real_mfcc
    x_train, y_train, x_test, y_test = _split(x, y)
    model = fit_mfcc_stats(x_train, y_train, n_classes=4)
    accuracy = (model(x_test).argmax(1).numpy() == y_test).mean()
    assert accuracy > 0.8  # chance: 0.25


def test_statistics_by_hand():
    # One bin rising 0, 1, ..., 9 (delta 1 everywhere), one constant 5.
    x = torch.stack([torch.arange(10.0), torch.full((10,), 5.0)])[None].double()
    stats = clip_statistics(x, delta_width=3)
    mean, std, dmean, dstd = stats[0].reshape(4, 2)
    assert mean.tolist() == pytest.approx([4.5, 5.0])
    assert std.tolist() == pytest.approx([np.std(np.arange(10.0)), 0.0])
    assert dmean.tolist() == pytest.approx([1.0, 0.0])
    assert dstd.tolist() == pytest.approx([0.0, 0.0], abs=1e-12)


def test_statistics_of_clips_shorter_than_the_delta_window():
    stats = clip_statistics(torch.randn(2, 5, 4), delta_width=9)
    assert stats.shape == (2, 20) and torch.isfinite(stats).all()
    one_frame = clip_statistics(torch.randn(1, 5, 1))
    assert one_frame[0, 5:].abs().max() < 1e-6  # std and deltas of one frame are 0
    with pytest.raises(ParameterError, match="frames >= 1"):
        clip_statistics(torch.randn(1, 5, 0))


def test_class_without_training_clips_is_never_predicted(real_mfcc):
    x, y = real_mfcc
    keep = y != 2
    model = fit_mfcc_stats(x[keep], y[keep], n_classes=4)
    scores = model(x)
    assert model.present.tolist() == [True, True, False, True]
    assert (scores[:, 2] == ABSENT_LOGIT).all()
    assert (scores.argmax(1) != 2).all()


def test_save_load_roundtrip_gives_identical_scores(real_mfcc, tmp_path):
    x, y = real_mfcc
    model = fit_mfcc_stats(x, y, n_classes=4)
    spec = ClassifierSpec(
        architecture="mfcc-svm",
        model_config={},
        labels=["speech", "drums", "trumpet", "whale"],
        multi_label=False,
        feature=MFCC.to_dict(),
        clip_seconds=0.5,
    )
    path = save_classifier(tmp_path / "baseline.safetensors", model, spec)
    assert path.read_bytes()[8:9] == b"{"  # a safetensors JSON header, not a pickle
    loaded, spec2 = load_classifier(path)
    assert isinstance(loaded, MFCCStats) and spec2.labels == spec.labels
    assert loaded.config == model.config
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    # The prediction path used by `torchmusic predict` takes it as any other model.
    predictor = Predictor(path)
    probs = predictor.predict_windows(x[:5].float())
    assert probs.shape == (5, 4)
    torch.testing.assert_close(probs.sum(1), torch.ones(5))


def test_registered_and_buildable_from_config():
    assert CLASSIFIERS["mfcc-svm"] == (MFCCStatsConfig, MFCCStats)
    model = build_classifier("mfcc-svm", n_mels=13, n_frames=22, n_classes=3, n_support_vectors=4)
    assert model.support_vectors.shape == (4, 52)
    assert model.pair_coef.shape == (3, 4)
    assert not model.fitted
    with pytest.raises(DataError, match="no fitted weights"):
        model(torch.randn(1, 13, 22))
    logreg = build_classifier("mfcc-svm", n_mels=13, n_frames=22, n_classes=3, classifier="logreg")
    assert logreg.coef.shape == (3, 52)
    assert dataclasses.asdict(logreg.config)["classifier"] == "logreg"


def test_bad_settings_and_inputs_are_refused(real_mfcc):
    with pytest.raises(ParameterError, match="classifier='tree'"):
        MFCCStatsConfig(classifier="tree")
    with pytest.raises(ParameterError, match="gamma='wide'"):
        MFCCStatsConfig(gamma="wide")
    with pytest.raises(ParameterError, match="delta_width=4"):
        MFCCStatsConfig(delta_width=4)
    x, y = real_mfcc
    with pytest.raises(DataError, match="at least two classes"):
        fit_mfcc_stats(x[:5], np.zeros(5, dtype=int), n_classes=2)
    model = fit_mfcc_stats(x, y, n_classes=4)
    with pytest.raises(ParameterError, match=r"\(batch, 13, frames\)"):
        model(torch.randn(2, 20, 22))
