"""Catalog round trip: add, duplicates, remove, similar; bad input of every kind."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3

import numpy as np
import pytest
from catalog_helpers import FAKE_MODEL, random_vectors, write_tone

from torchmusic.embed import MFCCEmbedder, embed_tracks, fit_mfcc_standardisation
from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.catalog import Catalog


@pytest.fixture(scope="module")
def built(tmp_path_factory, audio_dir):
    root = tmp_path_factory.mktemp("cat") / "catalog"
    cat = Catalog(root)
    report = cat.add([audio_dir], embedder="mfcc", batch_size=3, workers=1)
    return cat, report


def test_add_round_trip(built, audio_dir):
    cat, report = built
    assert len(report.added) == 8 and not report.failed and not report.duplicates
    assert len(cat) == 8
    assert report.generation == 3  # 8 files in batches of 3: three transactions
    assert cat.model.name == "mfcc" and cat.model.version == "2" and cat.model.dim == 60
    track = cat.get(1)
    assert track.name == "t00.wav" and track.metadata["duration"] == pytest.approx(1.5)
    assert track.metadata["size"] == (audio_dir / "t00.wav").stat().st_size


def test_similar_by_id_file_and_vector_agree(built, audio_dir):
    cat, _ = built
    by_id = cat.similar(1, k=3)
    assert len(by_id) == 3 and 1 not in [n.id for n in by_id]
    scores = [n.score for n in by_id]
    assert scores == sorted(scores, reverse=True)
    # The same content as a file query: looked up by hash, itself excluded.
    by_file = cat.similar(audio_dir / "t00.wav", k=3)
    assert [n.id for n in by_file] == [n.id for n in by_id]
    assert [n.id for n in cat.similar("1", k=3)] == [n.id for n in by_id]
    # Results equal exact cosine ranking of the stored embeddings.
    emb, _ = embed_tracks([audio_dir], "mfcc", progress=False)
    sims = emb.vectors[1:] @ emb.vectors[0]
    expected = [int(i) + 2 for i in np.argsort(-sims)[:3]]
    assert [n.id for n in by_id] == expected
    np.testing.assert_allclose(scores, np.sort(sims)[::-1][:3], atol=1e-5)


def test_an_unknown_audio_file_is_embedded_with_the_catalog_model(built, tmp_path):
    cat, _ = built
    query = write_tone(tmp_path / "new.wav", 112.0, seed=42)
    found = cat.similar(query, k=2)
    assert found[0].name in ("t00.wav", "t01.wav")  # the closest pitches


def test_same_content_twice_is_a_no_op(built, audio_dir, tmp_path):
    cat, _ = built
    before = cat.generation
    copy = tmp_path / "renamed_copy.wav"
    shutil.copy(audio_dir / "t03.wav", copy)
    report = cat.add([audio_dir, copy], embedder="mfcc")
    assert report.added == [] and len(report.duplicates) == 9
    assert dict(report.duplicates)[copy.resolve()] == 4
    assert len(cat) == 8 and cat.generation == before  # nothing written


def test_remove_by_id_and_path_then_re_add(tmp_path, audio_dir):
    cat = Catalog(tmp_path / "c")
    cat.add([audio_dir], embedder="mfcc")
    report = cat.remove([2, str(audio_dir / "t05.wav"), 99, "nope.wav"])
    assert report.removed == [2, 6] and report.missing == ["99", "nope.wav"]
    assert len(cat) == 6
    assert all(n.id not in (2, 6) for n in cat.similar(1, k=10))
    with pytest.raises(DataError, match="no track with id 2"):
        cat.similar(2)
    again = cat.add([audio_dir / "t01.wav"])  # default: the catalog's own model
    assert [i for i, _ in again.added] == [9]  # ids are never reused
    assert len(cat.similar(9, k=10)) == 6


def test_corrupt_audio_is_skipped_and_reported(tmp_path, audio_dir):
    folder = tmp_path / "mixed"
    shutil.copytree(audio_dir, folder)
    (folder / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    (folder / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    cat = Catalog(tmp_path / "c")
    report = cat.add([folder], embedder="mfcc", batch_size=4)
    assert len(report.added) == 8
    assert sorted(f.path.name for f in report.failed) == ["broken.ogg", "broken.wav"]
    assert "FAILED" in report.summary()


def test_empty_and_missing_catalogs_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no catalog at"):
        Catalog(tmp_path / "none").similar(1)
    assert len(Catalog(tmp_path / "none")) == 0
    assert not (tmp_path / "none").exists()  # reading never creates anything
    cat = Catalog(tmp_path / "c")
    cat.add_embeddings(
        random_vectors(2), paths=["a", "b"], model=FAKE_MODEL, content_hashes=["1", "2"]
    )
    cat.remove([1, 2])
    with pytest.raises(DataError, match="is empty"):
        cat.similar(np.ones(8, np.float32))
    with pytest.raises(DataError, match="empty and has no model"):
        Catalog(tmp_path / "fresh").add([tmp_path])
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        Catalog(tmp_path / "file")


def test_wrong_dimension_and_other_model_are_refused(built, tmp_path):
    cat = Catalog(tmp_path / "c")
    cat.add_embeddings(
        random_vectors(3), paths=list("abc"), model=FAKE_MODEL, content_hashes=list("abc")
    )
    with pytest.raises(DataError, match="dim 8"):
        cat.add_embeddings(
            random_vectors(2, dim=4), paths=list("de"), model=FAKE_MODEL, content_hashes=list("de")
        )
    other = dataclasses.replace(FAKE_MODEL, dim=4)
    with pytest.raises(DataError, match=r"dim 4.*dim 8"):
        cat.add_embeddings(random_vectors(1, dim=4), paths=["d"], model=other, content_hashes=["d"])
    newer = dataclasses.replace(FAKE_MODEL, version="2", fingerprint="e" * 32)
    with pytest.raises(DataError, match="built with model"):
        cat.add_embeddings(random_vectors(1), paths=["d"], model=newer, content_hashes=["d"])
    with pytest.raises(DataError, match="dim 8"):
        cat.similar(np.ones(5, np.float32))
    with pytest.raises(DataError, match="NaN"):
        cat.add_embeddings(
            np.full((1, 8), np.nan), paths=["d"], model=FAKE_MODEL, content_hashes=["d"]
        )
    # A real embedder of another model against an mfcc catalog fails before embedding.
    mfcc_cat, _ = built
    raw = np.random.default_rng(0).normal(size=(5, 60))
    other_stats = MFCCEmbedder(stats=fit_mfcc_standardisation(raw, fitted_on="noise"))
    with pytest.raises(DataError, match="built with model"):
        mfcc_cat.add([tmp_path], embedder=other_stats)
    assert len(cat) == 3


def test_bad_queries(built, tmp_path):
    cat, _ = built
    with pytest.raises(DataError, match="neither a track id nor an existing"):
        cat.similar(str(tmp_path / "nothing.wav"))
    with pytest.raises(ParameterError, match="k="):
        cat.similar(1, k=0)
    assert len(cat.similar(1, k=100)) == len(cat) - 1


def test_schema_is_what_the_docs_say(built):
    cat, _ = built
    conn = sqlite3.connect(cat.db_path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "model", "tracks", "removed", "raw_features"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    blob = conn.execute("SELECT embedding FROM tracks WHERE id = 1").fetchone()[0]
    assert len(blob) == 60 * 4
    raw = conn.execute("SELECT features FROM raw_features WHERE id = 1").fetchone()[0]
    assert len(raw) == 60 * 4  # the mfcc v2 raw statistics, for restandardising
    conn.close()


def test_a_network_catalog_keeps_its_model_and_embeds_queries_with_it(tmp_path, audio_dir):
    import torch

    from torchmusic.features import FeatureConfig
    from torchmusic.models import clip_frames
    from torchmusic.models.embed import EmbeddingModelSpec, build_embedder, save_embedding_model

    feature = FeatureConfig(n_mels=16, n_fft=512, hop_length=256)
    torch.manual_seed(0)
    net = build_embedder(
        "contrastive", n_mels=16, n_frames=clip_frames(0.5, feature), dim=6, channels=[4]
    )
    spec = EmbeddingModelSpec("contrastive", {}, feature.to_dict(), 0.5)
    model_file = save_embedding_model(tmp_path / "m" / "net.safetensors", net, spec)
    cat = Catalog(tmp_path / "c")
    report = cat.add([audio_dir], embedder=model_file)
    assert len(report.added) == 8 and cat.model.dim == 6 and cat.model.name == "contrastive"
    shutil.rmtree(tmp_path / "m")  # the catalog kept a copy
    query = write_tone(tmp_path / "q.wav", 300.0, seed=7)
    fresh = Catalog(tmp_path / "c")
    assert len(fresh.similar(query, k=3)) == 3
    # A model file with other weights is refused, for adds and as the catalog's model.
    with torch.no_grad():
        net.to_embedding.bias.add_(0.5)
    other = save_embedding_model(tmp_path / "other.safetensors", net, spec)
    with pytest.raises(DataError, match="built with model"):
        fresh.add([query], embedder=other)
    shutil.copy(other, fresh.model_path)
    with pytest.raises(DataError, match="is not the model"):
        Catalog(tmp_path / "c").similar(query)
