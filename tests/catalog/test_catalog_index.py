"""The FAISS index: rebuilt from SQLite when missing, stale or corrupt, with the same neighbours."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from catalog_helpers import FAKE_MODEL, exact_top_k, random_vectors

from torchmusic.recommend.catalog import Catalog, build_index
from torchmusic.recommend.catalog import index as index_module
from torchmusic.recommend.catalog.index import choose_kind, index_kind, ivf_lists, load_index

N = 300


def _catalog(root, n=N, *, seed=0):
    cat = Catalog(root)
    vectors = random_vectors(n, seed=seed)
    cat.add_embeddings(
        vectors,
        paths=[f"track{i}.wav" for i in range(n)],
        model=FAKE_MODEL,
        content_hashes=[f"h{seed}-{i}" for i in range(n)],
        batch_size=100,
    )
    return cat, vectors


def _answers(cat, queries=(1, 50, 123, 299)):
    return [[(n.id, round(n.score, 5)) for n in cat.similar(q, k=10)] for q in queries]


def test_results_are_exact_and_survive_a_rebuild(tmp_path):
    cat, vectors = _catalog(tmp_path / "c")
    ids = np.arange(1, N + 1)
    for q in (1, 50, 299):
        expected = [i for i in exact_top_k(vectors, ids, vectors[q - 1], 11) if i != q][:10]
        assert [n.id for n in cat.similar(q, k=10)] == expected
    before = _answers(cat)
    assert cat.rebuild_index().startswith("flat index of 300 tracks")
    assert _answers(Catalog(tmp_path / "c")) == before


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: p.unlink(), "missing"),
        (lambda p: p.write_bytes(b"not an index at all"), "corrupt"),
        (lambda p: p.write_bytes(p.read_bytes()[:-100]), "corrupt"),
        (lambda p: p.write_bytes(p.read_bytes()[:-10] + bytes(10)), "checksum"),
    ],
)
def test_a_damaged_index_is_rebuilt_and_reported(tmp_path, damage, reason):
    cat, _ = _catalog(tmp_path / "c")
    before = _answers(cat)
    damage(cat.index_path)
    fresh = Catalog(tmp_path / "c")
    assert _answers(fresh) == before
    assert len(fresh.events) == 1 and reason in fresh.events[0] and "rebuilt" in fresh.events[0]
    # The repaired index was saved: the next reader loads it silently.
    again = Catalog(tmp_path / "c")
    assert _answers(again) == before and again.events == []


def test_a_stale_index_is_detected_and_rebuilt(tmp_path):
    cat, _ = _catalog(tmp_path / "c")
    old = tmp_path / "old_index"
    shutil.copy(cat.index_path, old)
    extra = random_vectors(5, seed=9)
    cat.add_embeddings(extra, paths=list("abcde"), model=FAKE_MODEL, content_hashes=list("abcde"))
    shutil.copy(old, cat.index_path)  # an index that misses the last add
    fresh = Catalog(tmp_path / "c")
    found = fresh.similar(extra[0], k=1)
    assert found[0].id == N + 1 and found[0].score == pytest.approx(1.0, abs=1e-5)
    assert "stale" in fresh.events[0]
    assert (
        load_index(
            cat.index_path,
            generation=fresh.generation,
            fingerprint=FAKE_MODEL.fingerprint,
            ntotal=N + 5,
        )[1]
        is None
    )


def test_open_catalogs_catch_up_without_a_rebuild(tmp_path):
    reader, _ = _catalog(tmp_path / "c")
    reader.similar(1)
    writer = Catalog(tmp_path / "c")
    extra = random_vectors(3, seed=5)
    writer.add_embeddings(extra, paths=list("xyz"), model=FAKE_MODEL, content_hashes=list("xyz"))
    writer.remove([1])
    assert reader.similar(extra[2], k=1)[0].id == N + 3
    assert 1 not in [n.id for n in reader.similar(2, k=N)]
    assert reader.events == []


def test_ivf_above_the_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "EXACT_MAX_TRACKS", 100)
    assert choose_kind(100) == "flat" and choose_kind(101) == "ivf"
    # Clustered data, as real embeddings are: IVF finds the exact neighbours.
    rng = np.random.default_rng(0)
    centres = random_vectors(20, seed=1)
    vectors = centres[rng.integers(0, 20, N)] + 0.05 * rng.standard_normal((N, 8))
    cat = Catalog(tmp_path / "c")
    cat.add_embeddings(
        vectors, paths=[str(i) for i in range(N)], model=FAKE_MODEL,
        content_hashes=[str(i) for i in range(N)],
    )  # fmt: skip
    index, _ = load_index(
        cat.index_path, generation=cat.generation, fingerprint=FAKE_MODEL.fingerprint, ntotal=N
    )
    assert index_kind(index) == "ivf"
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, N + 1)
    hits = 0
    for q in range(1, N + 1, 30):
        expected = set(exact_top_k(unit, ids, unit[q - 1], 6)) - {q}
        hits += len(expected & {n.id for n in cat.similar(q, k=5)})
    assert hits >= 0.9 * 5 * len(range(1, N + 1, 30))


def test_build_index_kinds_agree_when_ivf_scans_everything():
    vectors = random_vectors(500, seed=3)
    ids = np.arange(500, dtype=np.int64) * 7
    flat = build_index(ids, vectors, kind="flat")
    ivf = build_index(ids, vectors, kind="ivf", nlist=8, nprobe=8)
    d1, i1 = flat.search(vectors[:5], 10)
    d2, i2 = ivf.search(vectors[:5], 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, atol=1e-5)
    assert i1[0, 0] == 0 and i1[1, 0] == 7
    assert ivf_lists(1_000_000) == 4096 and ivf_lists(10) == 64
