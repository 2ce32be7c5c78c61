"""Data of token-LM training: the tokenised corpus, condition vocabulary and windows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.engine import is_global_zero
from torchmusic.training.lm.settings import LMTrainConfig

TOKEN_CACHE = "tokens.npz"
# Token types that stand for one note each (REMI/TSD/Structured: Pitch; MIDILike: NoteOn).
NOTE_TOKEN_TYPES = ("Pitch_", "NoteOn_")


def note_token_mask(tok: Any, vocab_size: int) -> torch.Tensor:
    """``(vocab_size,)`` bool: which ids stand for one note (Pitch / NoteOn tokens).

    Ids past the tokenizer (condition tokens) are never notes.
    """
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    for token, i in tok.vocab.items():
        if i < vocab_size and str(token).startswith(NOTE_TOKEN_TYPES):
            mask[i] = True
    return mask


def _stack(items: list[torch.Tensor]) -> tuple[torch.Tensor]:
    # A 1-tuple, so the shared Throughput callback counts windows (batch[0].shape[0]).
    return (torch.stack(items),)


def canonical_tokenizer(tok: Any) -> Any:
    """``tok`` rebuilt from its description as a model file stores it (JSON, sorted keys).

    miditok builds some vocabulary parts from its config in dict order (e.g. the
    time signatures of ``time_signature_range``), and model files store the
    description with sorted keys, so the tokenizer rebuilt at generation time can
    number tokens differently from the one given here. Training with the rebuilt
    one makes the ids of training and generation the same by construction.
    """
    from torchmusic.symbolic.tokenize import tokenizer_from_dict, tokenizer_to_dict

    return tokenizer_from_dict(json.loads(json.dumps(tokenizer_to_dict(tok), sort_keys=True)))


def _select(corpus: Any, select: dict[str, list[str]]) -> Any:
    """The pieces of ``corpus`` whose metadata matches every ``column: values`` of ``select``."""
    from torchmusic.symbolic import MidiCorpus

    columns = set(corpus.entries[0]) if corpus.entries else set()
    missing = sorted(set(select) - columns)
    if missing:
        raise DataError(
            f"select: {missing} are not columns of the corpus metadata "
            f"({', '.join(sorted(columns - {'path', 'name', 'split'})) or 'none'})"
        )
    kept = [e for e in corpus.entries if all(str(e[c]) in v for c, v in select.items())]
    if not kept:
        shown = {c: sorted({str(e[c]) for e in corpus.entries}) for c in select}
        raise DataError(f"select={select!r} keeps no piece; values present: {shown}")
    return MidiCorpus(kept, corpus.root)


def load_tokens(cfg: LMTrainConfig, tok: Any, cache: Path, *, progress: bool) -> Any:
    """The tokenised corpus of ``cfg.data``: from ``cache`` when it matches, else tokenised.

    The cache matches when it was made with the same tokenizer settings from the
    same files (the corpus's file list), so an edited corpus is re-tokenised.
    """
    from torchmusic.symbolic import MidiCorpus, TokenizedCorpus, tokenize_corpus
    from torchmusic.symbolic.tokenize import tokenizer_to_dict

    corpus = MidiCorpus.from_folder(cfg.data, seed=cfg.seed)
    if cfg.select:
        corpus = _select(corpus, cfg.select)
    tok_dict = tokenizer_to_dict(tok)
    wanted = sorted(str(p) for p in corpus.paths)
    if cache.is_file():
        try:
            cached = TokenizedCorpus.load(cache)
        except DataError:
            cached = None
        # Compared as text: two descriptions that are equal as dicts but list their
        # keys in another order can number the tokens differently.
        if cached is not None and json.dumps(cached.tokenizer) == json.dumps(tok_dict):
            seen = sorted([m["path"] for m in cached.metadata] + [p for p, _ in cached.failures])
            if seen == wanted:
                # Splits and labels come from the corpus as it is now.
                rows = {e["path"]: e for e in corpus.entries}
                cached.metadata = [rows[m["path"]] for m in cached.metadata]
                return cached
    data = tokenize_corpus(corpus, tok, workers=cfg.tokenize_workers, progress=progress)
    if not data.ids:
        reasons = "; ".join(f"{p}: {r}" for p, r in data.failures[:5])
        raise DataError(f"no MIDI file of {cfg.data!r} could be tokenised ({reasons})")
    if is_global_zero():
        data.save(cache)
    return data


def condition_vocab(cfg: LMTrainConfig, rows: list[dict[str, Any]], offset: int) -> Any:
    """The :class:`~torchmusic.symbolic.ConditionVocab` of ``cfg.conditions`` (None: none).

    Values come from the training pieces (at least ``condition_min_count`` each).
    With transposition, ``key`` also gets every key a training key can be moved to,
    since the transposed windows carry the moved key.
    """
    from torchmusic.symbolic import ConditionVocab
    from torchmusic.symbolic.augment import transpose_key

    if not cfg.conditions:
        return None
    columns = set(rows[0]) if rows else set()
    missing = [c for c in cfg.conditions if c not in columns]
    if missing:
        shown = sorted(columns - {"path", "name", "split"})
        raise DataError(
            f"condition(s) {missing} are not columns of the corpus metadata "
            f"({', '.join(shown) or 'none: a plain MIDI folder has no metadata; build a folk corpus'})"
        )
    vocab = ConditionVocab.from_metadata(
        rows, cfg.conditions, offset, min_count=cfg.condition_min_count
    )
    if "key" in vocab.fields and cfg.transpose:
        keys = set(vocab.fields["key"])
        for key in list(keys):
            for shift in range(-cfg.transpose, cfg.transpose + 1):
                try:
                    keys.add(transpose_key(key, shift))
                except ParameterError:
                    break  # not a key name ("none", "unknown"): stays as it is
        fields = dict(vocab.fields)
        fields["key"] = sorted(keys)
        vocab = ConditionVocab(fields, offset)
    return vocab


class LMData(pl.LightningDataModule):
    """Train/valid/test token windows of a tokenised corpus.

    Parameters
    ----------
    data : TokenizedCorpus
    tokenizer : miditok.MusicTokenizer
    vocab : ConditionVocab or None
    cfg : LMTrainConfig
    """

    def __init__(self, data: Any, tokenizer: Any, vocab: Any, cfg: LMTrainConfig) -> None:
        super().__init__()
        from torchmusic.symbolic import TokenChunks

        # The VAE encodes windows of exactly seq_len ids; the LMs see seq_len inputs
        # plus the shifted target (TokenChunks items have seq_len + 1 ids).
        window = cfg.seq_len - 1 if cfg.model == "vae" else cfg.seq_len
        self.cfg = cfg
        self.parts: dict[str, Any] = {}
        for split in ("train", "valid", "test"):
            part = data.split(split)
            if not len(part):
                continue
            self.parts[split] = TokenChunks(
                part,
                seq_len=window,
                tokenizer=tokenizer,
                condition_vocab=vocab,
                train=split == "train",
                transpose=cfg.transpose,
                condition_dropout=cfg.condition_dropout,
                max_tokens=cfg.max_tokens,
            )
        for split in ("train", "valid"):
            if split not in self.parts:
                what = "validation" if split == "valid" else "training"
                raise DataError(
                    f"{cfg.data!r} has no {what} pieces (after skipping unreadable files); "
                    "a MIDI folder is split 80/10/10 by file name: add files, or build a "
                    "corpus with metadata.csv"
                )
        self.pieces = {split: len(part.streams) for split, part in self.parts.items()}
        # Set by train_lm after fitting: the final figures use every validation piece.
        self.full_eval = False

    def _subset(self, split: str) -> Any:
        """The validation windows of ``cfg.val_pieces`` seeded-random pieces (or all)."""
        from torch.utils.data import Subset

        part = self.parts[split]
        n = self.cfg.val_pieces
        if self.full_eval or n is None or n >= len(part.streams):
            return part
        rng = np.random.default_rng(self.cfg.seed)
        chosen = rng.choice(len(part.streams), size=n, replace=False)
        # TokenChunks maps item -> piece in `_piece` (one item per window).
        return Subset(part, np.flatnonzero(np.isin(part._piece, chosen)).tolist())

    @property
    def has_test(self) -> bool:
        return "test" in self.parts

    def _loader(self, split: str) -> DataLoader:
        return DataLoader(
            self._subset(split) if split == "valid" else self.parts[split],
            batch_size=self.cfg.batch_size,
            shuffle=split == "train",
            num_workers=self.cfg.num_workers,
            collate_fn=_stack,
            persistent_workers=self.cfg.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


def tokens_per_bar(data: Any, tok: Any) -> float | None:
    """Mean tokens per bar of the training pieces (None without Bar tokens), used by
    ``torchmusic generate`` to size its token budget for ``--bars``."""
    bar = tok.vocab.get("Bar_None")
    if bar is None:
        return None
    train = data.split("train")
    bars = sum(int(np.count_nonzero(ids == bar)) for ids in train.ids)
    return round(train.n_tokens / bars, 2) if bars else None
