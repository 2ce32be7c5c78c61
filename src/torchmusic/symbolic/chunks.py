"""Fixed-length token windows for training and evaluating language models.

Each item is a ``LongTensor`` of ``seq_len + 1`` ids laid out as::

    [condition tokens (one per field)] [window of: BOS piece-tokens EOS] [PAD ...]

so ``x = item[:-1]`` and ``y = item[1:]`` are a model's input and target;
:meth:`TokenChunks.inputs_targets` does that for a batch and marks the targets not
to learn (padding, the condition tokens and the window's first token) with
``IGNORE_INDEX`` (-100, the default ``ignore_index`` of
``torch.nn.functional.cross_entropy``).

Long pieces are cut into windows: piece ``i`` of stream length ``L`` (with BOS
and EOS) yields ``ceil((L - 1) / (body - 1))`` windows, where ``body = seq_len + 1
- n_prefix``; windows overlap by one token so that in evaluation every token after
BOS is a target exactly once (sum the per-token losses for nats per token).
``max_tokens`` truncates a piece first (documented cap for extremely long files).

Training (``train=True``): the item index picks a piece (long pieces proportionally
more often, one item per window) and a uniformly random window start; pieces are
transposed by a random number of semitones in ``[-transpose, transpose]`` (a
``key`` condition moves with them; a shift that leaves the pitch range is replaced
by none), and each condition is replaced by "any" with probability
``condition_dropout``. Randomness comes from torch's global generator, which
``lightning.seed_everything`` and DataLoader workers seed per worker and epoch.
Evaluation (``train=False``) is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import miditok
import numpy as np
import torch
from torch.utils.data import Dataset

from torchmusic.errors import ParameterError
from torchmusic.symbolic.augment import PitchShifter, transpose_key
from torchmusic.symbolic.conditions import ANY, ConditionVocab
from torchmusic.symbolic.tokenized import TokenizedCorpus

IGNORE_INDEX = -100


class TokenChunks(Dataset):
    """Training/evaluation windows over tokenised pieces.

    Parameters
    ----------
    pieces : TokenizedCorpus or sequence of int arrays
        Token ids per piece, without BOS/EOS.
    seq_len : int
        Model context: items have ``seq_len + 1`` ids.
    tokenizer : miditok.MusicTokenizer
        Gives the PAD/BOS/EOS ids and the pitch tokens for transposition.
    conditions : sequence of dict or None
        Condition values per piece (e.g. ``{"tune_type": "reel"}``); default: the
        metadata rows of a :class:`TokenizedCorpus` when ``condition_vocab`` is given.
    condition_vocab : ConditionVocab or None
        Prefix each item with one condition token per field (values outside the
        vocabulary become "any").
    train : bool
        Random windows and augmentation (True) or fixed windows (False).
    transpose : int >= 0
        Largest random transposition in semitones (training only).
    condition_dropout : float in [0, 1]
        Probability of replacing each condition by "any" (training only).
    max_tokens : int or None
        Cap on the tokens kept of each piece (its beginning).

    Attributes
    ----------
    vocab_size : int
        Size a model's embedding needs: tokenizer vocabulary + condition tokens.
    pad_id, bos_id, eos_id, n_prefix : int

    Examples
    --------
    >>> ds = TokenChunks(data.split("train"), seq_len=512, tokenizer=tok, train=True, transpose=5)  # doctest: +SKIP
    >>> x, y = ds.inputs_targets(next(iter(DataLoader(ds, batch_size=8))))  # doctest: +SKIP
    >>> x.shape, y.shape  # doctest: +SKIP
    (torch.Size([8, 512]), torch.Size([8, 512]))
    """

    def __init__(
        self,
        pieces: TokenizedCorpus | Sequence[np.ndarray | Sequence[int]],
        *,
        seq_len: int,
        tokenizer: miditok.MusicTokenizer,
        conditions: Sequence[Mapping[str, Any]] | None = None,
        condition_vocab: ConditionVocab | None = None,
        train: bool = False,
        transpose: int = 0,
        condition_dropout: float = 0.0,
        max_tokens: int | None = None,
    ) -> None:
        if isinstance(pieces, TokenizedCorpus):
            if conditions is None and condition_vocab is not None:
                conditions = pieces.metadata
            pieces = pieces.ids
        n_prefix = len(condition_vocab.fields) if condition_vocab is not None else 0
        if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < n_prefix + 2:
            raise ParameterError(
                f"seq_len={seq_len!r} must be an int >= {n_prefix + 2} (condition tokens + 2)"
            )
        if not isinstance(transpose, int) or not 0 <= transpose <= 24:
            raise ParameterError(f"transpose={transpose!r} must be an int in [0, 24] semitones")
        if not 0.0 <= condition_dropout <= 1.0:
            raise ParameterError(f"condition_dropout={condition_dropout!r} must be in [0, 1]")
        if max_tokens is not None and max_tokens < 1:
            raise ParameterError(f"max_tokens={max_tokens!r} must be >= 1 or None")
        if conditions is not None and len(conditions) != len(pieces):
            raise ParameterError(f"{len(conditions)} condition rows for {len(pieces)} pieces")
        if condition_vocab is not None and condition_vocab.offset != len(tokenizer):
            raise ParameterError(
                f"condition_vocab.offset={condition_vocab.offset} must equal the tokenizer "
                f"size {len(tokenizer)}"
            )

        self.seq_len = seq_len
        self.train = train
        self.transpose = transpose if train else 0
        self.condition_dropout = condition_dropout if train else 0.0
        self.condition_vocab = condition_vocab
        self.n_prefix = n_prefix
        self.pad_id = int(tokenizer.pad_token_id)
        self.bos_id = int(tokenizer["BOS_None"])
        self.eos_id = int(tokenizer["EOS_None"])
        self.vocab_size = len(tokenizer) + (condition_vocab.size if condition_vocab else 0)
        self._shift = PitchShifter(tokenizer) if self.transpose else None

        self.streams: list[np.ndarray] = []
        for ids in pieces:
            ids = np.asarray(ids, dtype=np.int64)[:max_tokens]
            self.streams.append(np.concatenate([[self.bos_id], ids, [self.eos_id]]))
        self.conditions: list[dict[str, str]] = []
        if condition_vocab is not None:
            rows = conditions if conditions is not None else [{}] * len(self.streams)
            for row in rows:
                self.conditions.append({f: str(row[f]) for f in condition_vocab.fields if f in row})

        # Item -> (piece, window number): window starts step by body - 1.
        self.body = seq_len + 1 - n_prefix
        counts = [max(1, -(-(s.size - 1) // (self.body - 1))) for s in self.streams]
        self._piece = np.repeat(np.arange(len(self.streams)), counts)
        self._window = (
            np.concatenate([np.arange(c) for c in counts]) if counts else np.zeros(0, int)
        )

    def __len__(self) -> int:
        return int(self._piece.size)

    def __getitem__(self, index: int) -> torch.Tensor:
        piece = int(self._piece[index])
        stream = self.streams[piece]
        if self.train:
            latest = max(0, stream.size - self.body)
            start = int(torch.randint(latest + 1, ()).item())
        else:
            start = int(self._window[index]) * (self.body - 1)
        window = stream[start : start + self.body]
        conditions = dict(self.conditions[piece]) if self.condition_vocab is not None else {}

        if self._shift is not None:
            semitones = int(torch.randint(-self.transpose, self.transpose + 1, ()).item())
            shifted = self._shift(window, semitones)
            key = conditions.get("key")
            if shifted is not None and key not in (None, ANY):
                try:
                    conditions["key"] = transpose_key(key, semitones)
                except ParameterError:
                    pass  # "none" or an unreadable key: nothing to move
            if shifted is not None:
                window = shifted

        prefix: list[int] = []
        if self.condition_vocab is not None:
            if self.condition_dropout > 0:
                drop = torch.rand(len(self.condition_vocab.fields)) < self.condition_dropout
                for field, dropped in zip(self.condition_vocab.fields, drop.tolist(), strict=True):
                    if dropped:
                        conditions.pop(field, None)
            prefix = self.condition_vocab.encode(conditions, strict=False)

        item = torch.full((self.seq_len + 1,), self.pad_id, dtype=torch.long)
        item[: self.n_prefix] = torch.tensor(prefix, dtype=torch.long)
        item[self.n_prefix : self.n_prefix + window.size] = torch.from_numpy(window)
        return item

    def inputs_targets(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Model inputs ``(B, seq_len)`` and targets ``(B, seq_len)`` of a batch.

        Targets that are padding, condition tokens or the window's first token
        are ``IGNORE_INDEX`` (-100). PAD only ever follows EOS or the end of a
        window, so a PAD target is never real music.
        """
        if batch.ndim != 2 or batch.shape[1] != self.seq_len + 1:
            raise ParameterError(
                f"expected a batch of shape (B, {self.seq_len + 1}), got {tuple(batch.shape)}"
            )
        inputs = batch[:, :-1]
        targets = batch[:, 1:].clone()
        targets[targets == self.pad_id] = IGNORE_INDEX
        # A window's first token is context, never a target: the condition tokens
        # predict nothing, and windows then tile each piece's targets exactly once.
        targets[:, : self.n_prefix] = IGNORE_INDEX
        return inputs, targets

    def n_targets(self) -> int:
        """Real targets over the evaluation windows: tokens after BOS (incl. EOS)."""
        return int(sum(s.size - 1 for s in self.streams))
