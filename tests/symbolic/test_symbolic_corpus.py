"""MIDI corpora, hash splits, corpus tokenisation with bad files skipped and reported."""

from __future__ import annotations

import numpy as np
import pytest

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic import (
    MidiCorpus,
    TokenizedCorpus,
    encode,
    hash_split,
    read_midi,
    tokenize_corpus,
)

GOOD = ["a.mid", "sub/b.MIDI", "sub/c.mid"]
BAD = {"corrupt.mid": "not a readable MIDI file", "empty.mid": "is empty", "drums.mid": "only drum tracks",
       "silent.mid": "holds no notes"}  # fmt: skip


def test_folder_corpus_finds_midi_at_any_depth_with_stable_hash_splits(midi_folder):
    corpus = MidiCorpus.from_folder(midi_folder, seed=3)
    names = [e["name"] for e in corpus]
    assert sorted(names) == sorted([*GOOD, *BAD])  # notes.txt is not MIDI
    assert all(e["split"] == hash_split(e["name"], seed=3) for e in corpus)
    assert sum(len(corpus.split(s)) for s in ("train", "valid", "test")) == len(corpus)
    splits = [hash_split(f"piece{i}.mid") for i in range(2000)]
    assert 0.75 < splits.count("train") / 2000 < 0.85 and splits.count("test") > 150
    with pytest.raises(ParameterError, match="unknown split"):
        corpus.split("dev")


def test_folk_folder_uses_metadata(folk_dir):
    corpus = MidiCorpus.from_folder(folk_dir)
    assert len(corpus) == 12 and all(p.is_file() for p in corpus.paths)
    assert corpus.values("collection") == ["aird", "essen", "oneills", "ryans"]
    assert len(corpus.split("test")) == 4
    with pytest.raises(ParameterError, match="no 'mood' column"):
        corpus.values("mood")


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        MidiCorpus.from_folder(tmp_path / "nope")
    with pytest.raises(DataError, match="holds no MIDI files"):
        MidiCorpus.from_folder(tmp_path)


@pytest.mark.parametrize("workers", [1, 2])
def test_tokenize_corpus_skips_and_reports_bad_files(midi_folder, tok, workers):
    corpus = MidiCorpus.from_folder(midi_folder)
    data = tokenize_corpus(corpus, tok, workers=workers, progress=False)
    assert sorted(m["name"] for m in data.metadata) == sorted(GOOD)
    assert len(data.failures) == len(BAD)
    for path, reason in data.failures:
        name = path.split("/")[-1]
        assert BAD[name] in reason and name in reason
    for ids, meta in zip(data.ids, data.metadata, strict=True):
        assert ids.dtype == np.int32
        assert ids.tolist() == encode(read_midi(meta["path"]), tok)
    assert data.n_tokens == sum(a.size for a in data.ids)


def test_tokenized_corpus_save_load_and_split(folk_dir, tok, tmp_path):
    data = tokenize_corpus(MidiCorpus.from_folder(folk_dir), tok, workers=1, progress=False)
    assert len(data) == 12 and not data.failures
    path = data.save(tmp_path / "cache" / "folk.npz")
    again = TokenizedCorpus.load(path)
    assert [a.tolist() for a in again.ids] == [a.tolist() for a in data.ids]
    assert again.metadata == data.metadata and again.tokenizer == data.tokenizer
    test = again.split("test")
    assert len(test) == 4 and {m["split"] for m in test.metadata} == {"test"}
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a saved TokenizedCorpus"):
        TokenizedCorpus.load(tmp_path / "junk.npz")
