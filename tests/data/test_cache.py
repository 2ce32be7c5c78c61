"""FeatureCache: content keys, the stat index, atomic pickle-free entries, damage recovery."""

from __future__ import annotations

import dataclasses
import os
import pickle
import time
from pathlib import Path

import numpy as np
import pytest

import torchmusic.data.cache as cache_mod
from torchmusic.data import FeatureCache, content_hash
from torchmusic.errors import AudioFileError, DataError, ParameterError


def age(path: Path, seconds: float = 3600) -> None:
    """Backdate a file's mtime so its hash counts as settled (see the racy-file rule)."""
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count hashing and feature computations done by the cache module."""
    counts = {"hash": 0, "compute": 0}
    real_hash, real_compute = cache_mod.content_hash, cache_mod.compute_file_features

    def hash_(path):
        counts["hash"] += 1
        return real_hash(path)

    def compute(*args, **kwargs):
        counts["compute"] += 1
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(cache_mod, "content_hash", hash_)
    monkeypatch.setattr(cache_mod, "compute_file_features", compute)
    return counts


def test_content_hash(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    c.write_bytes(b"other bytes")
    assert content_hash(a) == content_hash(b) != content_hash(c)
    assert len(content_hash(a)) == 32
    with pytest.raises(AudioFileError, match="does not exist"):
        content_hash(tmp_path / "missing")


def test_load_computes_once_then_reads(
    class_folder: Path, small_config, tmp_path: Path, counted
) -> None:
    cache = FeatureCache(tmp_path / "cache", small_config)
    path = class_folder / "jazz" / "j0.wav"
    assert path not in cache
    first = cache.load(path)
    assert first.dtype == np.float32 and first.shape == (16, 1 + 8000 // 64)
    assert path in cache and counted["compute"] == 1
    again = cache.load(path, mmap=True)
    assert isinstance(again, np.memmap) and counted["compute"] == 1
    np.testing.assert_array_equal(first, again)
    # Entries are plain .npy files, readable without pickle.
    entry = cache.lookup(path)
    np.testing.assert_array_equal(np.load(entry, allow_pickle=False), first)
    assert entry.parent.parent.parent == cache.dir
    assert (cache.dir / "config.json").is_file()
    assert list(cache.tmp_dir.iterdir()) == []  # no temporary file left behind


def test_same_content_shares_an_entry(class_folder: Path, small_config, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "cache", small_config)
    src = class_folder / "jazz" / "j0.wav"
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(src.read_bytes())
    cache.load(src)
    assert cache.lookup(copy) == cache.lookup(src)


def test_stat_index_skips_rehashing_unchanged_files(
    class_folder: Path, small_config, tmp_path: Path, counted
) -> None:
    path = class_folder / "jazz" / "j1.wav"
    age(path)
    cache = FeatureCache(tmp_path / "cache", small_config)
    digest = cache.hash_file(path)
    assert counted["hash"] == 1
    fresh = FeatureCache(tmp_path / "cache", small_config)  # a later run
    assert fresh.hash_file(path) == digest and counted["hash"] == 1
    os.utime(path)  # touched: re-hashed, same content hash
    assert fresh.hash_file(path) == digest and counted["hash"] == 2


def test_recently_modified_files_are_not_remembered(
    class_folder: Path, small_config, tmp_path: Path, counted
) -> None:
    # A file modified in the last moments could change again within the same mtime
    # tick; its hash must not be trusted from the stat index.
    path = class_folder / "jazz" / "j2.wav"
    cache = FeatureCache(tmp_path / "cache", small_config)
    cache.hash_file(path)
    cache.hash_file(path)
    assert counted["hash"] == 2


def test_config_and_channel_mode_select_separate_entries(small_config, tmp_path: Path) -> None:
    a = FeatureCache(tmp_path, small_config)
    b = FeatureCache(tmp_path, dataclasses.replace(small_config, n_mels=8))
    c = FeatureCache(tmp_path, small_config, mono=False)
    d = FeatureCache(tmp_path, dataclasses.replace(small_config))
    assert len({a.dir, b.dir, c.dir}) == 3 and a.dir == d.dir
    assert a.dir.name.startswith("logmel-")
    with pytest.raises(ParameterError):
        FeatureCache(tmp_path, {"kind": "logmel"})


def test_damaged_entry_is_recomputed_with_a_warning(
    class_folder: Path, small_config, tmp_path: Path, counted
) -> None:
    cache = FeatureCache(tmp_path / "cache", small_config)
    path = class_folder / "rock" / "r1.flac"
    good = cache.load(path)
    entry = cache.lookup(path)
    entry.write_bytes(entry.read_bytes()[:100])  # outside damage, e.g. a full disk
    with pytest.raises(DataError, match="unreadable"):
        FeatureCache.read(entry)
    with pytest.warns(RuntimeWarning, match="recomputing"):
        again = cache.load(path)
    np.testing.assert_array_equal(again, good)
    assert counted["compute"] == 2
    # A pickled object array is refused, not executed.
    np.save(entry, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError):
        FeatureCache.read(entry)


def test_cache_pickles_for_dataloader_workers(
    class_folder: Path, small_config, tmp_path: Path
) -> None:
    cache = FeatureCache(tmp_path / "cache", small_config)
    cache.hash_file(class_folder / "jazz" / "j0.wav")  # opens the SQLite connection
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.dir == cache.dir
    np.testing.assert_array_equal(
        clone.load(class_folder / "jazz" / "j0.wav"), cache.load(class_folder / "jazz" / "j0.wav")
    )


def test_prune_temp_removes_only_old_files(small_config, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path, small_config)
    cache.tmp_dir.mkdir(parents=True)
    old, new = cache.tmp_dir / "1-old.npy", cache.tmp_dir / "2-new.npy"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    age(old, 7200)
    assert cache.prune_temp() == 1
    assert not old.exists() and new.exists()


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from torchmusic.data import default_cache_dir

    monkeypatch.setenv("TORCHMUSIC_CACHE_DIR", str(tmp_path / "tm"))
    assert default_cache_dir() == tmp_path / "tm"
    monkeypatch.delenv("TORCHMUSIC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "torchmusic" / "features"
