"""Embedders: windows as the Predictor cuts them, MFCC-mean (v1) parity, penultimate layer, pooling.

The standardised ``mfcc`` (v2) embedder has its own tests: ``test_embed_mfcc.py``."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from embed_helpers import SR, TINY_FEATURE, tone

from torchmusic.embed import (
    ClassifierEmbedder,
    MFCCEmbedder,
    MFCCMeanEmbedder,
    NetworkEmbedder,
    clip_windows,
    embed_tracks,
    get_embedder,
    iter_embeddings,
)
from torchmusic.errors import DataError
from torchmusic.features import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, clip_frames, save_classifier
from torchmusic.serve.predict import Predictor


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    feature = FeatureConfig.from_dict(TINY_FEATURE)
    torch.manual_seed(0)
    model = build_classifier(
        "crnn",
        n_mels=16,
        n_frames=clip_frames(1.0, feature),
        n_classes=3,
        channels=[4, 4],
        rnn_hidden=6,
        rnn_layers=1,
    )
    spec = ClassifierSpec("crnn", {}, ["a", "b", "c"], False, feature.to_dict(), 1.0)
    return save_classifier(tmp_path_factory.mktemp("clf") / "crnn.safetensors", model, spec)


@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("hop", [None, 0.4])
def test_clip_windows_match_the_predictor(classifier_file, seconds, hop):
    predictor = Predictor(classifier_file, hop_seconds=hop)
    y = torch.from_numpy(tone(300.0, seconds))
    expected, _ = predictor.window_features(y)
    got = clip_windows(
        y,
        feature=predictor.feature,
        clip_seconds=1.0,
        n_frames=predictor.n_frames,
        hop_seconds=hop,
    )
    assert torch.equal(got, expected)


def test_legacy_mfcc_mean_embedder_is_the_normalised_mean_of_librosa_mfccs():
    y = tone(220.0, 1.5)
    ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20).mean(axis=1)[1:]
    ref = ref / np.linalg.norm(ref)
    got = MFCCMeanEmbedder().embed_waveform(torch.from_numpy(y))
    assert got.shape == (19,) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=2e-3)
    with_c0 = MFCCMeanEmbedder(drop_c0=False)
    assert with_c0.dim == 20 and with_c0.info.fingerprint != MFCCMeanEmbedder().info.fingerprint


def test_classifier_embedder_returns_the_penultimate_layer(classifier_file):
    emb = ClassifierEmbedder(classifier_file)
    assert emb.info.name == "classifier:crnn" and emb.dim == 12  # 2 x rnn_hidden
    windows = torch.randn(3, 16, emb.n_frames)
    captured = []
    emb.model.head[-1].register_forward_hook(lambda m, args, out: captured.append(args[0]))
    got = emb.embed_windows(windows)
    assert torch.equal(got, captured[-1])


def test_network_embedder_pools_unit_clip_embeddings(embed_model_files):
    emb = NetworkEmbedder(embed_model_files["contrastive"], hop_seconds=0.5)
    y = torch.from_numpy(tone(440.0, 2.2))
    windows = clip_windows(
        y, feature=emb.feature, clip_seconds=1.0, n_frames=emb.n_frames, hop_seconds=0.5
    )
    clips = emb.model.embed(windows)
    expected = torch.nn.functional.normalize(clips.mean(dim=0), dim=0).detach().numpy()
    got = emb.embed_waveform(y)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-5)


def test_get_embedder_dispatches_on_the_file_format(embed_model_files, classifier_file):
    assert isinstance(get_embedder("mfcc"), MFCCEmbedder)
    assert get_embedder("MFCC").info.version == "2"
    assert isinstance(get_embedder(embed_model_files["autoencoder"]), NetworkEmbedder)
    assert isinstance(get_embedder(classifier_file), ClassifierEmbedder)
    ready = MFCCEmbedder()
    assert get_embedder(ready) is ready
    with pytest.raises(DataError):
        get_embedder("no/such/model.safetensors")


def test_embed_tracks_skips_and_reports_bad_files(tmp_path, tone_dir):
    (tmp_path / "good").mkdir()
    for p in sorted(tone_dir.glob("*.wav"))[:3]:
        (tmp_path / "good" / p.name).write_bytes(p.read_bytes())
    (tmp_path / "good" / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage")
    sf.write(tmp_path / "good" / "empty.wav", np.zeros(0, np.float32), SR)
    emb, failed = embed_tracks(
        [tmp_path / "good", tmp_path / "missing.ogg"], "mfcc", progress=False, workers=2
    )
    assert emb.vectors.shape == (3, 60) and len(emb) == 3
    assert [p.name for p in emb.paths] == sorted(p.name for p in tone_dir.glob("*.wav"))[:3]
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, atol=1e-5)
    assert all(d == pytest.approx(2.0, abs=0.01) for d in emb.durations)
    assert sorted(f.path.name for f in failed) == ["corrupt.wav", "empty.wav", "missing.ogg"]


def test_threaded_and_inline_decoding_agree(tone_dir):
    files = sorted(tone_dir.glob("*.wav"))
    emb = MFCCEmbedder()
    inline = [e.vector for e in iter_embeddings(files, emb, workers=0)]
    threaded = [e.vector for e in iter_embeddings(files, emb, workers=3)]
    assert len(inline) == len(files)
    for a, b in zip(inline, threaded, strict=True):
        np.testing.assert_array_equal(a, b)
