"""Windows of several tracks in one forward pass give the per-file results (real audio)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchmusic.embed.embedders import get_embedder
from torchmusic.embed.tracks import iter_embeddings as iter_embeddings_per_file
from torchmusic.errors import ParameterError
from torchmusic.scale.batching import cross_track_batches
from torchmusic.scale.jobs import iter_embeddings, iter_predictions
from torchmusic.serve.predict import Predictor

SHORT = [  # real recordings of 2.7-25 s: 3-25 windows each
    "456440__inspectorj__bird-whistling-robin-single-13.ogg",
    "198-209-0000.ogg",
    "sorohanro_-_solo-trumpet-06.ogg",
    "admiralbob77_-_Choice_-_Drum-bass.ogg",
]


@pytest.fixture(scope="module")
def files(shared_data):
    # A non-audio file in the middle: its failure must keep its place.
    names = [*SHORT[:2], "LICENSE", *SHORT[2:]]
    return [shared_data / "recordings" / name for name in names]


def test_cross_track_batches_packs_and_splits_in_order():
    tracks = [("a", torch.arange(5.0)), ("bad", None), ("b", torch.arange(2.0) + 10)]
    tracks += [("c", torch.arange(4.0) + 20)]
    sizes = []

    def run(batch):
        sizes.append(batch.shape[0])
        return batch * 2

    out = list(cross_track_batches(iter(tracks), run, batch_size=4))

    assert [k for k, _ in out] == ["a", "bad", "b", "c"]
    assert sizes == [4, 4, 3]  # 11 windows: full batches across tracks, then the rest
    for (_, w), (_, o) in zip(tracks, out, strict=True):
        assert (o is None) == (w is None)
        if w is not None:
            torch.testing.assert_close(o, w * 2)
    with pytest.raises(ParameterError, match="batch_size=0"):
        list(cross_track_batches(iter(tracks), run, batch_size=0))


@pytest.mark.parametrize("workers", [0, 2])
def test_batched_predictions_equal_per_file(files, workers):
    predictor = Predictor("drums", hop_seconds=0.75)  # 1 s clips, overlapping windows
    out = list(iter_predictions(files, predictor, workers=workers, batch_size=16, timeline=True))

    assert [o.path for o in out] == files
    assert "not a supported audio file" in out[2].error or out[2].error
    assert not hasattr(out[2], "labels")
    for got in out[:2] + out[3:]:
        want = predictor.predict_file(got.path, timeline=True)
        assert got.duration == want.duration
        assert [lab for lab, _ in got.labels] == [lab for lab, _ in want.labels]
        np.testing.assert_allclose(
            list(got.probabilities.values()), list(want.probabilities.values()), atol=1e-5
        )
        assert [s[:2] for s in got.segments] == [s[:2] for s in want.segments]
        assert len(got.segments) > 1


@pytest.mark.parametrize("model", ["music-embed", "drums", "mfcc"])
def test_batched_embeddings_equal_per_file(files, model):
    embedder = get_embedder(model)
    want = list(iter_embeddings_per_file(files, embedder, workers=0))
    got = list(iter_embeddings(files, embedder, workers=2, batch_size=8))

    assert [g.path for g in got] == files
    assert got[2].vector is None and got[2].error == want[2].error
    for g, w in zip(got, want, strict=True):
        if w.vector is not None:
            assert g.duration == pytest.approx(w.duration)
            np.testing.assert_allclose(g.vector, w.vector, atol=1e-5)
            if w.raw is not None:  # mfcc: the raw statistics a catalog stores
                np.testing.assert_allclose(g.raw, w.raw, rtol=1e-5, atol=1e-6)


def test_cross_track_batches_reads_tracks_only_as_far_as_a_batch_needs():
    pulled = []

    def tracks():
        for i in range(1000):  # a library far larger than any batch
            pulled.append(i)
            yield i, torch.ones(3, 2)

    out = cross_track_batches(tracks(), lambda w: w, batch_size=4)
    key, first = next(out)
    # Track 0 (3 windows) is done once track 1 fills the first batch of 4.
    assert (key, first.shape[0]) == (0, 3) and pulled == [0, 1]
    assert [k for _, (k, _) in zip(range(5), out, strict=False)] == [1, 2, 3, 4, 5]
    assert len(pulled) <= 8
