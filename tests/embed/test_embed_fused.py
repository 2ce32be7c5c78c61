"""``music-embed`` v2: the fused embedder, its rhythm part, and what it refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from embed_helpers import SR, tone

from torchmusic.embed import MFCCEmbedder, get_embedder
from torchmusic.embed.base import Embedder
from torchmusic.embed.embedders import NetworkEmbedder
from torchmusic.embed.fused import FusedEmbedder, music_embedder
from torchmusic.embed.info import ModelInfo
from torchmusic.embed.rhythm import (
    EDGES,
    N_BINS,
    RhythmEmbedder,
    RhythmStandardisation,
    fit_rhythm_standardisation,
    raw_rhythm_profile,
    reference_rhythm_standardisation,
)
from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig


class Fixed(Embedder):
    """Returns a fixed unit vector whatever the audio (hand-checkable fusion)."""

    def __init__(self, vector, *, sr=SR, tag="a"):
        v = np.asarray(vector, dtype=np.float32)
        self.v = v / np.linalg.norm(v)
        self.feature = FeatureConfig(kind="logmel", sr=sr)
        self.device = torch.device("cpu")
        self._info = ModelInfo(f"fixed-{tag}", "1", v.size, f"fp-{tag}-{v.tolist()}")

    @property
    def info(self):
        return self._info

    def embed_waveform(self, y):
        return self.v


def clicks(every_frames: int, seconds: float = 12.0) -> torch.Tensor:
    """A click track: a 5 ms noise burst every ``every_frames`` hops of 512 samples."""
    g = torch.Generator().manual_seed(0)
    y = torch.zeros(int(seconds * SR))
    burst = torch.randn(int(0.005 * SR), generator=g)
    for start in range(0, y.numel() - burst.numel(), every_frames * 512):
        y[start : start + burst.numel()] = burst
    return y


def test_fusion_is_the_weighted_concatenation_of_unit_parts():
    a, b = Fixed([3.0, 4.0], tag="a"), Fixed([0.0, 0.0, 2.0], tag="b")
    fused = FusedEmbedder([("a", a), ("b", b)])
    v = fused.embed_waveform(torch.zeros(10))
    np.testing.assert_allclose(v, np.array([0.6, 0.8, 0, 0, 1.0]) / np.sqrt(2), atol=1e-7)
    assert fused.dim == 5 and fused.layout == [("a", 2), ("b", 3)]
    # Weight 2 on b: b's block is twice as long before the renormalisation.
    heavy = FusedEmbedder([("a", a), ("b", b)], weights=[1.0, 2.0])
    np.testing.assert_allclose(heavy.embed_waveform(torch.zeros(10))[2:], [0, 0, 2 / np.sqrt(5)])
    # Every part and weight is in the fingerprint.
    fps = {fused.info.fingerprint, heavy.info.fingerprint}
    fps.add(FusedEmbedder([("a", a), ("b", Fixed([0.0, 1.0, 2.0], tag="c"))]).info.fingerprint)
    assert len(fps) == 3


def test_fused_cosine_is_the_mean_of_the_parts_cosines():
    y1, y2 = torch.from_numpy(tone(220.0, 4.0, seed=1)), torch.from_numpy(tone(330.0, 4.0, seed=2))
    mfcc, rhythm = MFCCEmbedder(), RhythmEmbedder()
    fused = FusedEmbedder([("mfcc", mfcc), ("rhythm", rhythm)])
    parts = [float(e.embed_waveform(y1) @ e.embed_waveform(y2)) for e in (mfcc, rhythm)]
    assert float(fused.embed_waveform(y1) @ fused.embed_waveform(y2)) == pytest.approx(
        np.mean(parts), abs=1e-6
    )


def test_fused_refuses_bad_parts():
    a = Fixed([1.0, 0.0])
    with pytest.raises(ParameterError, match="at least one part"):
        FusedEmbedder([])
    with pytest.raises(ParameterError, match="unique"):
        FusedEmbedder([("a", a), ("a", Fixed([0.0, 1.0], tag="b"))])
    with pytest.raises(
        ParameterError, match=r"weights must be 2 positive numbers, got \[1.0, 0.0\]"
    ):
        FusedEmbedder([("a", a), ("b", Fixed([0.0, 1.0], tag="b"))], weights=[1, 0])
    with pytest.raises(ParameterError, match=r"share a sample rate.*44100"):
        FusedEmbedder([("a", a), ("b", Fixed([0.0, 1.0], sr=44100, tag="b"))])


def test_rhythm_profile_peaks_at_the_pulse_period():
    fast, slow = raw_rhythm_profile(clicks(10)), raw_rhythm_profile(clicks(15))
    assert fast.shape == slow.shape == (N_BINS,) and fast.dtype == np.float32
    bin_of = {lag: int(np.searchsorted(EDGES, lag, side="right") - 1) for lag in (10, 15)}
    assert bin_of[10] != bin_of[15]
    # Each click track repeats at its own period and not at the other's.
    assert fast[bin_of[10]] > 0.5 > fast[bin_of[15]]
    assert slow[bin_of[15]] > 0.5 > slow[bin_of[10]]
    assert np.array_equal(raw_rhythm_profile(clicks(10)), fast)


def test_rhythm_embedder_is_standardised_deterministic_and_takes_short_clips():
    stats = reference_rhythm_standardisation()
    assert stats.n_tracks == 80 and "train split" in stats.fitted_on
    emb = get_embedder("rhythm")
    assert isinstance(emb, RhythmEmbedder) and emb.dim == N_BINS == 36
    y = clicks(12)
    raw = raw_rhythm_profile(y)
    z = (raw - np.array(stats.mean)) / np.array(stats.std)
    np.testing.assert_allclose(emb.embed_waveform(y), z / np.linalg.norm(z), atol=1e-6)
    for n in (1, 100, 2000):  # shorter than one hop, than two frames
        v = emb.embed_waveform(torch.randn(n))
        assert v.shape == (36,) and np.isfinite(v).all()
    with pytest.raises(ParameterError, match="non-empty 1-D waveform"):
        emb.embed_waveform(torch.zeros(0))


def test_rhythm_statistics_round_trip_and_refuse_bad_records():
    raw = np.random.default_rng(0).random((5, N_BINS))
    stats = fit_rhythm_standardisation(raw, fitted_on="five rows")
    assert min(stats.std) >= 0.02
    again = RhythmStandardisation.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert again == stats and again.digest() == stats.digest()
    assert RhythmEmbedder(stats=stats).info.fingerprint != RhythmEmbedder().info.fingerprint
    bad = {**stats.to_dict(), "edges": [1, 2, 3]}
    with pytest.raises(DataError, match="lag bins"):
        RhythmStandardisation.from_dict(bad)
    with pytest.raises(ParameterError, match=r"shape \(n_tracks >= 2, 36\), got \(1, 36\)"):
        fit_rhythm_standardisation(raw[:1], fitted_on="one")


def test_music_embed_is_the_encoder_fused_with_mfcc_and_rhythm():
    emb = get_embedder("music-embed")
    assert isinstance(emb, FusedEmbedder)
    assert (emb.info.name, emb.info.version, emb.dim) == ("music-embed", "2", 352)
    assert emb.layout == [("encoder", 256), ("mfcc", 60), ("rhythm", 36)]
    assert emb.info.source.endswith("music-embed.safetensors")
    encoder = get_embedder("music-embed-encoder")
    assert isinstance(encoder, NetworkEmbedder) and encoder.info == emb.parts["encoder"].info
    y = torch.from_numpy(tone(440.0, 7.0))
    v = emb.embed_waveform(y)
    assert np.array_equal(v, emb.embed_waveform(y)) and np.linalg.norm(v) == pytest.approx(1.0)
    # The encoder block is the encoder's own embedding, scaled by 1/sqrt(3).
    np.testing.assert_allclose(v[:256] * np.sqrt(3), encoder.embed_waveform(y), atol=1e-5)
    # Same parts, same fingerprint: a catalog can rebuild it from its copy of the encoder.
    assert music_embedder(emb.info.source).info.fingerprint == emb.info.fingerprint
