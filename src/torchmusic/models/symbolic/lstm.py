"""LSTM language model over token ids: the recurrent baseline for the Transformer."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.symbolic.registry import register_generator

#: ``(h, c)``, each ``(n_layers, B, hidden)``: what the LSTM carries between calls.
LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclasses.dataclass
class LSTMConfig:
    """Settings of :class:`LSTMLanguageModel`.

    Attributes
    ----------
    vocab_size : int
        Token ids ``0 .. vocab_size-1`` (tokenizer vocabulary + condition tokens).
    n_embd : int
        Token embedding size.
    hidden : int
        LSTM units per layer.
    n_layers : int
        Stacked LSTM layers.
    dropout : float
        Dropout on the embeddings, between layers and before the output (training only).
    """

    vocab_size: int
    n_embd: int = 256
    hidden: int = 512
    n_layers: int = 2
    dropout: float = 0.2

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_embd", "hidden", "n_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if not 0.0 <= self.dropout < 1.0:
            raise ParameterError(f"dropout={self.dropout!r} must be in [0, 1)")


class LSTMLanguageModel(nn.Module):
    """Embedding -> stacked LSTM -> next-token logits.

    It has no context limit: the recurrent state summarises the whole past, so
    generation carries it instead of a KV cache (``block_size`` is None).

    Parameters
    ----------
    config : LSTMConfig

    Examples
    --------
    >>> model = LSTMLanguageModel(LSTMConfig(vocab_size=300, n_embd=32, hidden=64)).eval()
    >>> ids = torch.randint(0, 300, (2, 12))
    >>> logits, (h, c) = model(ids)
    >>> logits.shape, h.shape
    (torch.Size([2, 12, 300]), torch.Size([2, 2, 64]))
    """

    block_size = None

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        if not isinstance(config, LSTMConfig):
            raise ParameterError(f"config must be an LSTMConfig, got {type(config).__name__}")
        self.config = cfg = config
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(
            cfg.n_embd,
            cfg.hidden,
            num_layers=cfg.n_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.n_layers > 1 else 0.0,
        )
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)

    def num_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward(
        self, ids: torch.Tensor, *, state: LSTMState | None = None
    ) -> tuple[torch.Tensor, LSTMState]:
        """Logits of the next token at every position.

        Parameters
        ----------
        ids : torch.Tensor, shape (B, T), integer
            Token ids.
        state : (h, c), optional
            Recurrent state after earlier tokens (returned by a previous call);
            zeros when None.

        Returns
        -------
        logits : torch.Tensor, shape (B, T, vocab_size)
        state : (h, c), each (n_layers, B, hidden)
            The state after ``ids``, to continue from.
        """
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ParameterError(f"ids must have shape (batch, time>0), got {tuple(ids.shape)}")
        if ids.dtype.is_floating_point:
            raise ParameterError(f"ids must be integer token ids, got dtype {ids.dtype}")
        x = self.drop(self.tok_emb(ids))
        y, state = self.lstm(x, state)
        return self.head(self.drop(y)), state

    def step(self, ids: torch.Tensor, cache: LSTMState | None) -> tuple[torch.Tensor, LSTMState]:
        """Incremental decoding (used by :func:`~torchmusic.models.symbolic.generate`):
        the recurrent state is the 'cache'. Returns the last logits ``(B, V)``."""
        logits, state = self(ids, state=cache)
        return logits[:, -1], state


register_generator("lstm", LSTMConfig, LSTMLanguageModel, kind="tokens")
