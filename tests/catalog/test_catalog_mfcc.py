"""mfcc catalogs: old v1 catalogs stay usable and are upgraded; ``restandardise`` refits v2.

Bad input loses nothing: v1 embeddings in a v2 catalog, missing or changed files
during an upgrade, a network catalog, a crash inside the rewrite, a concurrent write.
"""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest
from catalog_helpers import FAKE_MODEL, random_vectors, write_tone

from torchmusic.cli.main import main
from torchmusic.embed import (
    MFCCEmbedder,
    MFCCMeanEmbedder,
    MFCCStandardisation,
    fit_mfcc_standardisation,
)
from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.catalog import Catalog, store

V1_FINGERPRINT = "eabc8d33335276143dab08a3488fe829"  # what catalogs built before v2 recorded


@pytest.fixture
def music(tmp_path, audio_dir):
    """A private copy of the 8 tones (tests delete and change files)."""
    folder = tmp_path / "music"
    shutil.copytree(audio_dir, folder)
    return folder


def state(cat: Catalog) -> tuple:
    """Everything restandardise may change: model record, vectors, raw rows, generation."""
    conn = sqlite3.connect(cat.db_path)
    try:
        model = conn.execute("SELECT * FROM model").fetchall()
        tracks = conn.execute("SELECT id, embedding, added_generation FROM tracks").fetchall()
        has_raw = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'raw_features'"
        ).fetchone()
        raw = conn.execute("SELECT * FROM raw_features").fetchall() if has_raw else None
        gen = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    finally:
        conn.close()
    return model, tracks, raw, gen


def v1_catalog(root, music) -> Catalog:
    """A catalog as torchmusic wrote it before v2: the MFCC-mean embedder, no raw features."""
    cat = Catalog(root)
    cat.add([music], embedder=MFCCMeanEmbedder(), workers=0)
    conn = sqlite3.connect(cat.db_path)
    conn.execute("DROP TABLE raw_features")  # the old schema had no such table
    conn.commit()
    conn.close()
    return Catalog(root)


def test_an_old_mfcc_catalog_opens_is_reported_and_still_works(tmp_path, music, capsys):
    cat = v1_catalog(tmp_path / "c", music)
    info, details = store.read_model(cat._connection())
    assert (info.name, info.version, info.dim, info.fingerprint) == ("mfcc", "1", 19, V1_FINGERPRINT)
    assert details == {"settings": {"n_mfcc": 20, "drop_c0": True, "sr": 22050}}
    advice = cat.info()["needs_reindex"]
    assert "legacy mfcc v1" in advice
    assert f"torchmusic catalog reindex --catalog {tmp_path / 'c'} --restandardise" in advice
    assert isinstance(cat.embedder(), MFCCMeanEmbedder)
    assert len(cat.similar(1, k=3)) == 3
    query = write_tone(tmp_path / "q.wav", 115.0, seed=9)
    assert cat.similar(query, k=1)[0].name in ("t00.wav", "t01.wav")
    # Still addable, with its own model or with "mfcc" (the catalog's own mfcc version).
    extra = write_tone(tmp_path / "more" / "x.wav", 700.0, seed=11)
    assert len(cat.add([extra]).added) == 1
    extra2 = write_tone(tmp_path / "more" / "y.wav", 750.0, seed=12)
    assert len(cat.add([extra2], embedder="mfcc").added) == 1
    assert cat.model.version == "1" and len(cat) == 10
    assert main(["catalog", "info", "-c", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "model       mfcc v1, dim 19" in out and "reindex     needed:" in out
    assert "--restandardise" in out


def test_restandardise_upgrades_a_v1_catalog(tmp_path, music):
    cat = v1_catalog(tmp_path / "c", music)
    reader = Catalog(tmp_path / "c")
    before = {n.id for n in reader.similar(1, k=7)}  # an open reader with a v1 index in memory
    old_vectors = store.all_vectors(cat._connection(), 19)[1]
    gen = cat.generation
    report = cat.restandardise(workers=0)
    assert report.tracks == 8 and report.from_audio == 8 and report.from_stored == 0
    assert report.old_model.version == "1" and report.new_model.version == "2"
    assert report.generation == gen + 1 and "flat index of 8 tracks" in report.index
    model = cat.model
    assert (model.version, model.dim) == ("2", 60) and model.fingerprint != V1_FINGERPRINT
    assert len(cat) == 8 and cat.info()["needs_reindex"] is None
    assert cat.info()["index"]["state"] == "up to date"
    ids, vectors = store.all_vectors(cat._connection(), 60)
    assert list(ids) == list(range(1, 9)) and vectors.shape != old_vectors.shape
    # The vectors are the catalog's own standardisation of the tracks' raw statistics.
    emb = cat.embedder()
    assert isinstance(emb, MFCCEmbedder) and emb.stats.n_tracks == 8
    raw = np.stack([emb.raw_statistics(emb.load(music / f"t{i:02d}.wav")) for i in range(8)])
    np.testing.assert_allclose(emb.stats.mean, raw.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(vectors, emb.standardise(raw), atol=1e-6)
    stored = store.raw_features(cat._connection(), 60)
    np.testing.assert_array_equal(np.stack([stored[i] for i in range(1, 9)]), raw)
    # The reader opened before the upgrade notices the new model and answers with it.
    after = reader.similar(1, k=7)
    assert {n.id for n in after} == before
    assert any("model changed" in e for e in reader.events)
    expected = np.argsort(-(vectors[1:] @ vectors[0]))[:3] + 2
    assert [n.id for n in reader.similar(1, k=3)] == list(expected)
    np.testing.assert_allclose(
        [n.score for n in reader.similar(1, k=3)], np.sort(vectors[1:] @ vectors[0])[::-1][:3],
        atol=1e-5,
    )
    # The same files in a v2 catalog, refitted, give the same model.
    fresh = Catalog(tmp_path / "v2")
    fresh.add([music], embedder="mfcc", workers=0)
    assert fresh.restandardise().new_model.fingerprint == model.fingerprint


def test_restandardise_refits_a_v2_catalog_without_its_audio(tmp_path, music):
    cat = Catalog(tmp_path / "c")
    cat.add([music], embedder="mfcc", workers=0)
    shipped = MFCCEmbedder()
    assert cat.model == shipped.info
    raw = np.stack([shipped.raw_statistics(shipped.load(p)) for p in sorted(music.glob("*.wav"))])
    old = state(cat)
    shutil.rmtree(music)  # the stored raw statistics are enough
    report = cat.restandardise()
    assert report.from_stored == 8 and report.from_audio == 0 and len(cat) == 8
    assert cat.model.fingerprint != shipped.info.fingerprint and cat.model.dim == 60
    refit = fit_mfcc_standardisation(raw, fitted_on="the same tracks")
    recorded = cat.embedder().stats
    assert recorded.digest() == refit.digest() and recorded.n_tracks == 8
    assert recorded.fitted_on == f"catalog {tmp_path / 'c'}: 8 tracks"
    assert "--restandardise" in recorded.provenance["command"]
    _, vectors = store.all_vectors(cat._connection(), 60)
    np.testing.assert_allclose(vectors, shipped.with_stats(refit).standardise(raw), atol=1e-6)
    assert state(cat)[1] != old[1]
    # A new track joins with the refitted statistics, by default or as 'mfcc'.
    new = write_tone(tmp_path / "new" / "n.wav", 300.0, seed=5)
    assert len(cat.add([new], embedder="mfcc").added) == 1
    np.testing.assert_allclose(
        store.get_vector(cat._connection(), 9, 60),
        shipped.with_stats(refit).embed_file(new),
        atol=1e-6,
    )
    # Refitting again (now 9 tracks, all with stored statistics) changes the model again.
    previous = cat.model.fingerprint
    again = cat.restandardise()
    assert (again.tracks, again.from_stored, again.from_audio) == (9, 9, 0)
    assert cat.model.fingerprint == again.new_model.fingerprint != previous


def test_v1_embeddings_cannot_join_a_v2_catalog(tmp_path, music):
    cat = Catalog(tmp_path / "c")
    cat.add([music / "t00.wav", music / "t01.wav"], embedder="mfcc", workers=0)
    before = state(cat)
    legacy = MFCCMeanEmbedder()
    with pytest.raises(DataError, match=r"dim 19 \(mfcc v1.*cannot join catalog.*mfcc v2"):
        cat.add([music / "t02.wav"], embedder=legacy)
    v1_vector = legacy.embed_file(music / "t02.wav")
    with pytest.raises(DataError, match="dim 19"):
        cat.add_embeddings(v1_vector[None], paths=[music / "t02.wav"], model=legacy.info)
    other = MFCCEmbedder(stats=MFCCStandardisation.identity())
    with pytest.raises(DataError, match=r"built with model mfcc v2.*omit --model"):
        cat.add([music / "t02.wav"], embedder=other)
    assert state(cat) == before and len(cat) == 2
    # ... nor v2 embeddings a v1 catalog.
    old = v1_catalog(tmp_path / "old", music)
    before = state(old)
    with pytest.raises(DataError, match=r"dim 60 \(mfcc v2.*mfcc v1"):
        old.add([write_tone(tmp_path / "z.wav", 90.0)], embedder=MFCCEmbedder())
    assert state(old) == before


def test_a_missing_or_changed_file_stops_an_upgrade_before_anything_changes(tmp_path, music):
    cat = v1_catalog(tmp_path / "c", music)
    before = state(cat)
    (music / "t03.wav").unlink()
    (music / "t05.wav").unlink()
    with pytest.raises(DataError, match=r"2 track\(s\).*missing.*nothing was changed") as exc:
        cat.restandardise()
    assert "4: " in str(exc.value) and str(music / "t03.wav") in str(exc.value)
    assert str(music / "t05.wav") in str(exc.value)
    assert state(cat) == before
    shutil.copy(music / "t04.wav", music / "t03.wav")  # back, but other content
    shutil.copy(music / "t04.wav", music / "t05.wav")
    with pytest.raises(DataError, match="changed since they were added"):
        cat.restandardise()
    assert state(cat) == before and cat.model.version == "1"
    # Removing those tracks makes the upgrade possible.
    cat.remove([4, 6])
    assert cat.restandardise().tracks == 6


def test_restandardise_is_one_transaction(tmp_path, music, monkeypatch):
    cat = Catalog(tmp_path / "c")
    cat.add([music], embedder="mfcc", workers=0)
    before = state(cat)

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-rewrite")

    monkeypatch.setattr(store, "write_raw_features", crash)  # after model + vectors
    with pytest.raises(RuntimeError, match="killed"):
        cat.restandardise()
    assert state(cat) == before
    monkeypatch.undo()
    assert len(Catalog(tmp_path / "c").similar(1, k=3)) == 3


def test_a_concurrent_write_stops_restandardise(tmp_path, music, monkeypatch):
    import torchmusic.embed.mfcc as mfcc

    cat = Catalog(tmp_path / "c")
    cat.add([music / "t00.wav", music / "t01.wav", music / "t02.wav"], embedder="mfcc")
    real_fit = mfcc.fit_mfcc_standardisation

    def fit_while_another_process_adds(*args, **kwargs):
        Catalog(tmp_path / "c").add([music / "t03.wav"], embedder="mfcc", workers=0)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(mfcc, "fit_mfcc_standardisation", fit_while_another_process_adds)
    before_model = cat.model
    with pytest.raises(DataError, match=r"changed by another process.*run the command again"):
        cat.restandardise()
    assert cat.model == before_model and len(cat) == 4


def test_restandardise_needs_an_mfcc_catalog_with_tracks(tmp_path, music, capsys):
    cat = Catalog(tmp_path / "net")
    cat.add_embeddings(random_vectors(3), paths=list("abc"), model=FAKE_MODEL, content_hashes=list("abc"))
    before = state(cat)
    with pytest.raises(ParameterError, match="refits the per-dimension statistics of an mfcc"):
        cat.restandardise()
    assert main(["catalog", "reindex", "-c", str(tmp_path / "net"), "--restandardise"]) == 1
    assert "test v1, dim 8" in capsys.readouterr().err
    assert state(cat) == before
    one = Catalog(tmp_path / "one")
    one.add([music / "t00.wav"], embedder="mfcc")
    with pytest.raises(DataError, match="at least 2"):
        one.restandardise()
    assert main(["catalog", "reindex", "-c", str(tmp_path / "none"), "--restandardise"]) == 1
    assert "no catalog at" in capsys.readouterr().err


def test_cli_reindex_restandardise_upgrades_an_old_catalog(tmp_path, music, capsys):
    v1_catalog(tmp_path / "c", music)
    assert main(["catalog", "reindex", "-c", str(tmp_path / "c"), "--restandardise",
                 "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "restandardised 8 track(s) (0 from stored MFCC statistics, 8 from their audio" in out
    assert "mfcc v1, dim 19" in out and "-> mfcc v2, dim 60" in out
    assert main(["catalog", "info", "-c", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "mfcc v2, dim 60" in out and "reindex     needed" not in out
    assert main(["similar", "1", "-c", str(tmp_path / "c"), "-k", "2"]) == 0
    assert "nearest tracks to 1" in capsys.readouterr().out
