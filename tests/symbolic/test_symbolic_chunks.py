"""TokenChunks: windows for LM training/evaluation, conditions, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from torchmusic.errors import ParameterError
from torchmusic.symbolic import (
    IGNORE_INDEX,
    ConditionVocab,
    MidiCorpus,
    TokenChunks,
    TokenizedCorpus,
    tokenize_corpus,
)


def _pieces(tok, lengths, seed=0):
    """Random pitch-token pieces (ids of Pitch_50..Pitch_80)."""
    rng = np.random.default_rng(seed)
    pitch_ids = [tok[f"Pitch_{p}"] for p in range(50, 81)]
    return [rng.choice(pitch_ids, size=n).astype(np.int32) for n in lengths]


def test_eval_windows_tile_every_target_exactly_once(tok):
    pieces = _pieces(tok, [5, 40, 17])
    ds = TokenChunks(pieces, seq_len=16, tokenizer=tok)
    body = 17
    streams = [[ds.bos_id, *p.tolist(), ds.eos_id] for p in pieces]
    assert len(ds) == sum(-(-(len(s) - 1) // (body - 1)) for s in streams) == 1 + 3 + 2
    batch = torch.stack([ds[i] for i in range(len(ds))])
    assert batch.shape == (len(ds), 17) and batch.dtype == torch.long
    x, y = ds.inputs_targets(batch)
    assert x.shape == y.shape == (len(ds), 16)
    got = [int(t) for row in y for t in row if t != IGNORE_INDEX]
    want = [t for s in streams for t in s[1:]]
    assert got == want and ds.n_targets() == len(want)
    assert torch.equal(x, batch[:, :-1])
    assert torch.equal(ds[0], ds[0])  # deterministic


def test_conditions_prefix_every_window_and_are_not_targets(tok):
    vocab = ConditionVocab({"tune_type": ["jig", "reel"], "key": ["D", "E", "G"]}, offset=len(tok))
    pieces = _pieces(tok, [30, 6])
    rows = [{"tune_type": "reel", "key": "D"}, {"tune_type": "polka", "key": "G"}]
    ds = TokenChunks(pieces, seq_len=12, tokenizer=tok, conditions=rows, condition_vocab=vocab)
    assert ds.n_prefix == 2 and ds.vocab_size == len(tok) + vocab.size
    items = [ds[i] for i in range(len(ds))]
    assert len(items) == 5  # body 11 = 10 targets a window: 31 targets need 4, then 7 need 1
    for item in items[:4]:
        assert vocab.decode(item[:2].tolist()) == {"tune_type": "reel", "key": "D"}
    assert vocab.decode(items[4][:2].tolist()) == {"tune_type": "*", "key": "G"}  # polka unknown
    assert items[0][2] == ds.bos_id
    _, y = ds.inputs_targets(torch.stack(items))
    assert (y[:, :2] == IGNORE_INDEX).all()
    assert not any(vocab.is_condition(t) for t in y.flatten().tolist() if t != IGNORE_INDEX)
    assert sum(int((row != IGNORE_INDEX).sum()) for row in y) == ds.n_targets() == 31 + 7


def test_long_pieces_are_capped_and_chunked(tok):
    piece = _pieces(tok, [10_000])
    ds = TokenChunks(piece, seq_len=64, tokenizer=tok, max_tokens=1000)
    assert ds.n_targets() == 1000 + 1  # tokens kept + EOS
    assert len(ds) == -(-1001 // 64)


def test_training_windows_transpose_pitches_and_the_key(tok):
    vocab = ConditionVocab({"key": ["C", "D", "E", "F#", "G"]}, offset=len(tok))
    pitch_ids = [tok[f"Pitch_{p}"] for p in range(60, 72)]
    piece = np.array(pitch_ids * 20, dtype=np.int32)
    ds = TokenChunks([piece], seq_len=32, tokenizer=tok, conditions=[{"key": "D"}],
                     condition_vocab=vocab, train=True, transpose=4)  # fmt: skip
    torch.manual_seed(0)
    seen = set()
    for i in range(40):
        item = ds[i % len(ds)].tolist()
        key = vocab.decode(item[:1])["key"]
        pitches = [int(tok[t].split("_")[1]) for t in item[1:] if tok[t].startswith("Pitch_")]
        shift = {"C": -2, "D": 0, "E": 2, "F#": 4, "G": 5}.get(key)
        # Pitches 60..71 in order, moved by the key's shift (a key outside the
        # vocabulary falls back to "any").
        if shift is not None:
            assert all(60 + shift <= p <= 71 + shift for p in pitches), (key, pitches)
        seen.add(key)
    assert len(seen) >= 3  # several transpositions were drawn
    torch.manual_seed(1)
    a = [ds[0] for _ in range(5)]
    torch.manual_seed(1)
    b = [ds[0] for _ in range(5)]
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))  # seeded = reproducible


def test_condition_dropout_gives_any(tok):
    vocab = ConditionVocab({"tune_type": ["jig", "reel"]}, offset=len(tok))
    ds = TokenChunks(_pieces(tok, [20]), seq_len=8, tokenizer=tok, conditions=[{"tune_type": "jig"}],
                     condition_vocab=vocab, train=True, condition_dropout=1.0)  # fmt: skip
    assert vocab.decode(ds[0][:1].tolist()) == {"tune_type": "*"}


def test_dataloader_over_a_tokenized_folk_corpus(folk_dir, tok):
    data = tokenize_corpus(MidiCorpus.from_folder(folk_dir), tok, workers=1, progress=False)
    vocab = ConditionVocab.from_metadata(data.metadata, ["tune_type", "collection"], len(tok))
    train = TokenChunks(data.split("train"), seq_len=128, tokenizer=tok, condition_vocab=vocab,
                        train=True, transpose=3, condition_dropout=0.1)  # fmt: skip
    batch = next(iter(DataLoader(train, batch_size=4, shuffle=True)))
    x, y = train.inputs_targets(batch)
    assert x.shape == (4, 128) and int(x.max()) < train.vocab_size
    assert (y != IGNORE_INDEX).sum() > 100


def test_argument_checks(tok):
    pieces = _pieces(tok, [5])
    vocab = ConditionVocab({"k": ["a"]}, offset=len(tok) + 1)
    with pytest.raises(ParameterError, match="seq_len"):
        TokenChunks(pieces, seq_len=1, tokenizer=tok)
    with pytest.raises(ParameterError, match="offset"):
        TokenChunks(pieces, seq_len=8, tokenizer=tok, condition_vocab=vocab)
    with pytest.raises(ParameterError, match="condition rows"):
        TokenChunks(pieces, seq_len=8, tokenizer=tok, conditions=[{}, {}])
    with pytest.raises(ParameterError, match="transpose"):
        TokenChunks(pieces, seq_len=8, tokenizer=tok, transpose=-1)
    ds = TokenChunks(TokenizedCorpus(pieces, [{"split": "train"}]), seq_len=8, tokenizer=tok)
    with pytest.raises(ParameterError, match="batch of shape"):
        ds.inputs_targets(torch.zeros(2, 8, dtype=torch.long))
