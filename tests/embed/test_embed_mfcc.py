"""The standardised ``mfcc`` embedder (v2), its statistics, and the legacy v1 it replaces."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
from embed_helpers import SR, tone

from torchmusic.embed import (
    MFCCEmbedder,
    MFCCMeanEmbedder,
    MFCCStandardisation,
    fit_mfcc_standardisation,
    get_embedder,
    reference_standardisation,
)
from torchmusic.embed.mfcc import LAYOUT, REFERENCE_FILE, mfcc_embedder_for
from torchmusic.errors import DataError, ParameterError

REPO = Path(__file__).resolve().parents[2]


def librosa_raw(y: np.ndarray, *, mode: str = "interp") -> np.ndarray:
    """The 60 raw statistics, computed independently with librosa."""
    m = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20)
    d = librosa.feature.delta(m, width=9, mode=mode)
    return np.concatenate([m.mean(axis=1), m.std(axis=1), d.std(axis=1)])


def known_stats() -> MFCCStandardisation:
    """Hand-picked statistics (not fitted): mean_k = k - 30, std_k = 2 + k / 2."""
    k = np.arange(60, dtype=np.float64)
    return MFCCStandardisation(tuple(k - 30), tuple(2 + k / 2), "by hand", 1)


def test_the_standardised_embedding_is_hand_checkable():
    y = tone(220.0, 1.5)
    ref_raw = librosa_raw(y)
    emb = MFCCEmbedder(stats=known_stats())
    raw = emb.raw_statistics(torch.from_numpy(y))
    assert raw.shape == (60,) and raw.dtype == np.float32
    np.testing.assert_allclose(raw, ref_raw, rtol=1e-4, atol=2e-3)
    k = np.arange(60)
    z = (ref_raw - (k - 30)) / (2 + k / 2)
    expected = z / np.linalg.norm(z)
    got = emb.embed_waveform(torch.from_numpy(y))
    assert got.shape == (60,) and got.dtype == np.float32 and emb.dim == 60
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-6)
    vector, raw_again = emb.embed_with_raw(torch.from_numpy(y))
    np.testing.assert_array_equal(vector, got)
    np.testing.assert_array_equal(raw_again, raw)


@pytest.mark.filterwarnings("ignore:n_fft=2048 is too large")  # librosa, on purpose
@pytest.mark.parametrize("n", [1, 700, 1024, 4095])  # 1, 2, 3 and 8 frames: fewer than 9
def test_clips_too_short_for_the_delta_use_edge_padding(n):
    y = tone(330.0, 1.0)[:n]
    raw = MFCCEmbedder().raw_statistics(torch.from_numpy(y))
    np.testing.assert_allclose(raw, librosa_raw(y, mode="nearest"), rtol=1e-4, atol=2e-3)
    assert np.isfinite(MFCCEmbedder().embed_waveform(torch.from_numpy(y))).all()


def test_an_empty_or_non_mono_waveform_is_a_parameter_error():
    with pytest.raises(ParameterError, match="non-empty 1-D waveform"):
        MFCCEmbedder().embed_waveform(torch.zeros(0))
    with pytest.raises(ParameterError, match="non-empty 1-D waveform"):
        MFCCEmbedder().raw_statistics(torch.zeros(2, 100))


def test_embedding_is_deterministic():
    y = torch.from_numpy(tone(440.0, 2.0, seed=3))
    a, b = MFCCEmbedder(), MFCCEmbedder()
    assert a.info == b.info
    np.testing.assert_array_equal(a.embed_waveform(y), b.embed_waveform(y))
    np.testing.assert_array_equal(a.embed_waveform(y), a.embed_waveform(y.clone()))


def test_statistics_round_trip_and_the_fingerprint_follows_them():
    stats = known_stats()
    again = MFCCStandardisation.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert again == stats and again.digest() == stats.digest()
    assert again.to_dict()["layout"] == list(LAYOUT)
    emb = MFCCEmbedder(stats=stats)
    assert MFCCEmbedder(stats=again).info.fingerprint == emb.info.fingerprint
    # Provenance and the description are not part of the model; the numbers are.
    relabelled = dataclasses.replace(stats, fitted_on="elsewhere", provenance={"x": 1})
    assert MFCCEmbedder(stats=relabelled).info.fingerprint == emb.info.fingerprint
    nudged = dataclasses.replace(stats, std=(stats.std[0] * (1 + 1e-12), *stats.std[1:]))
    assert MFCCEmbedder(stats=nudged).info.fingerprint != emb.info.fingerprint
    assert MFCCEmbedder().info.fingerprint != emb.info.fingerprint
    assert emb.with_stats(stats).info == emb.info
    # The recorded form rebuilds the same embedder (what a catalog does).
    rebuilt = mfcc_embedder_for("2", emb.settings, stats.to_dict())
    assert rebuilt.info == emb.info
    assert isinstance(mfcc_embedder_for("1", {"n_mfcc": 20, "drop_c0": True, "sr": SR}, None),
                      MFCCMeanEmbedder)  # fmt: skip
    with pytest.raises(DataError, match="unknown to this torchmusic"):
        mfcc_embedder_for("3", {}, None)


def test_bad_statistics_are_refused():
    with pytest.raises(ParameterError, match="needs 60 means"):
        MFCCStandardisation((0.0,) * 59, (1.0,) * 59, "x", 1)
    with pytest.raises(ParameterError, match="stds must be finite numbers > 0"):
        MFCCStandardisation((0.0,) * 60, (0.0,) + (1.0,) * 59, "x", 1)
    with pytest.raises(DataError, match="malformed MFCC standardisation"):
        MFCCStandardisation.from_dict({"mean": [0.0] * 60, "fitted_on": "x", "n_tracks": 1})
    with pytest.raises(ParameterError, match="cannot standardise"):
        MFCCEmbedder(sr=16000, stats=known_stats())
    with pytest.raises(ParameterError, match="shipped MFCC statistics are for"):
        MFCCEmbedder(n_mfcc=13)
    thirteen = MFCCStandardisation.identity(n_mfcc=13)
    assert MFCCEmbedder(n_mfcc=13, stats=thirteen).dim == 39


def test_fitting_standardises_the_fitted_rows():
    rng = np.random.default_rng(0)
    raw = rng.normal(loc=np.arange(60) * 10.0, scale=np.arange(60) + 1.0, size=(200, 60))
    raw[:, 5] = 7.0  # constant over the tracks: centred only
    stats = fit_mfcc_standardisation(raw, fitted_on="noise", provenance={"seed": 0})
    assert stats.n_tracks == 200 and stats.fitted_on == "noise"
    np.testing.assert_allclose(stats.mean, raw.mean(axis=0))
    assert stats.std[5] == 1.0 and stats.std[6] == pytest.approx(raw[:, 6].std())
    z = (raw - np.array(stats.mean)) / np.array(stats.std)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.delete(z.std(axis=0), 5), 1.0)
    with pytest.raises(ParameterError, match="at least 2 tracks"):
        fit_mfcc_standardisation(raw[:1], fitted_on="x")
    with pytest.raises(ParameterError, match=r"shape \(n_tracks, 60\)"):
        fit_mfcc_standardisation(raw[:, :59], fitted_on="x")
    raw[0, 0] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        fit_mfcc_standardisation(raw, fitted_on="x")


def test_the_shipped_statistics_and_their_provenance():
    ref = reference_standardisation()
    assert ref.settings == {"n_mfcc": 20, "sr": 22050, "delta_width": 9}
    assert ref.n_tracks == 80 and "train split" in ref.fitted_on
    assert ref.provenance["split"] == "train" and len(ref.provenance["tracks"]) == 80
    assert "mfcc_reference_stats.py" in ref.provenance["command"]
    # Real music: c0 (loudness) is a large negative mean with the largest spread.
    assert ref.mean[0] < -50 and ref.std[0] == max(ref.std[:20])
    assert MFCCEmbedder().stats == ref and get_embedder("mfcc").info == MFCCEmbedder().info
    # ... and the file is package data, so the wheel carries it.
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = globs["package-data"]["torchmusic"]
    assert any(Path("embed", REFERENCE_FILE).match(g) for g in globs), globs


def test_the_legacy_mean_embedder_keeps_the_fingerprint_old_catalogs_recorded():
    # Values written by torchmusic's MFCCEmbedder before v2: old catalogs must still match.
    assert MFCCMeanEmbedder().info.fingerprint == "eabc8d33335276143dab08a3488fe829"
    assert MFCCMeanEmbedder(drop_c0=False).info.fingerprint == "535fcccaef1abff1767ea6122129cf9b"
    assert MFCCMeanEmbedder(sr=16000).info.fingerprint == "7495af25e54c071619a52943066cdc6e"
    info = MFCCMeanEmbedder().info
    assert (info.name, info.version, info.dim) == ("mfcc", "1", 19)
    assert MFCCMeanEmbedder().settings == {"n_mfcc": 20, "drop_c0": True, "sr": 22050}
