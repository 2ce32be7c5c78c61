"""GPT-style decoder-only Transformer language model over token ids, with a KV cache.

A deliberately plain nanoGPT-like network (https://github.com/karpathy/nanoGPT): pre-norm
blocks of causal self-attention (:func:`torch.nn.functional.scaled_dot_product_attention`,
which picks a fused kernel) and a GELU MLP, learned or rotary positions, and the output
layer tied to the token embedding.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.symbolic.registry import register_generator


@dataclasses.dataclass
class TransformerConfig:
    """Settings of :class:`TransformerLM`.

    Attributes
    ----------
    vocab_size : int
        Token ids ``0 .. vocab_size-1``: the tokenizer's vocabulary plus any
        condition tokens appended after it.
    n_layer, n_head, n_embd : int
        Depth, attention heads and width (``n_embd`` divisible by ``n_head``; with
        rotary positions the head size must be even).
    block_size : int
        Longest context (positions ``0 .. block_size-1``).
    dropout : float
        Dropout on embeddings, attention weights and residual branches (training only).
    positions : {"rotary", "learned"}
        Rotary position embeddings on queries/keys (RoFormer), or a learned table
        added to the token embeddings (GPT-2).
    bias : bool
        Biases in linear layers and layer norms (GPT-2 has them; without is a bit
        faster and no worse).
    tie_weights : bool
        Share the token embedding with the output layer (fewer parameters, usually
        better perplexity on small corpora).
    rope_base : float
        Base of the rotary frequencies.
    """

    vocab_size: int
    n_layer: int = 6
    n_head: int = 8
    n_embd: int = 256
    block_size: int = 1024
    dropout: float = 0.1
    positions: str = "rotary"
    bias: bool = False
    tie_weights: bool = True
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "block_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if self.n_embd % self.n_head:
            raise ParameterError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        if self.positions not in ("rotary", "learned"):
            raise ParameterError(f"positions={self.positions!r} must be 'rotary' or 'learned'")
        if self.positions == "rotary" and (self.n_embd // self.n_head) % 2:
            raise ParameterError(
                f"rotary positions need an even head size; n_embd/n_head = "
                f"{self.n_embd}/{self.n_head} = {self.n_embd // self.n_head}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ParameterError(f"dropout={self.dropout!r} must be in [0, 1)")
        if not self.rope_base > 1.0:
            raise ParameterError(f"rope_base={self.rope_base!r} must be > 1")


class KVCache:
    """Keys and values of the tokens seen so far, per layer, for incremental decoding.

    Buffers of ``block_size`` positions are allocated once, so a decoding step
    writes one slot instead of re-concatenating the whole past.

    Parameters
    ----------
    config : TransformerConfig
        The model it belongs to.
    batch_size : int
        Sequences decoded side by side.
    device, dtype
        Of the buffers (those of the model's parameters).

    Attributes
    ----------
    length : int
        Positions filled (the absolute position of the next token).
    """

    def __init__(
        self,
        config: TransformerConfig,
        batch_size: int,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
        shape = (batch_size, config.n_head, config.block_size, config.n_embd // config.n_head)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.batch_size = batch_size
        self.capacity = config.block_size
        self.length = 0

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k, v`` ``(B, H, T, D)`` after the cached ones; return all of them so far."""
        end = self.length + k.shape[2]
        self.k[layer][:, :, self.length : end] = k
        self.v[layer][:, :, self.length : end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def reset(self) -> None:
        """Forget the cached tokens (buffers are kept)."""
        self.length = 0


class _Rotary(nn.Module):
    """Rotary position embedding (Su et al. 2021, "RoFormer"), GPT-NeoX half-split layout."""

    def __init__(self, head_dim: int, block_size: int, base: float) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        angles = torch.outer(torch.arange(block_size, dtype=torch.float64), inv_freq)
        # Non-persistent: derived from the config, so not stored in model files.
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def forward(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """Rotate ``x`` ``(B, H, T, D)`` by the angles of absolute positions ``start..start+T-1``."""
        t = x.shape[2]
        cos = self.cos[start : start + t].to(x.dtype)
        sin = self.sin[start : start + t].to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class _Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig, rotary: _Rotary | None) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)
        # Shared table owned by the model; a plain attribute so it is not registered
        # once per layer.
        self._rotary = [rotary]

    def forward(
        self, x: torch.Tensor, start: int, cache: KVCache | None, layer: int
    ) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        rotary = self._rotary[0]
        if rotary is not None:
            q, k = rotary(q, start), rotary(k, start)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.update(layer, k, v)
        p = self.dropout if self.training else 0.0
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        elif t == 1:
            # One new token: it may see every cached key, so no mask at all.
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:
            # Several new tokens after a cached past: SDPA's is_causal aligns the mask
            # to the top-left corner, which is wrong here; new token i (absolute
            # position past+i) sees keys 0..past+i.
            mask = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_drop(self.proj(y))


class _Block(nn.Module):
    def __init__(self, cfg: TransformerConfig, rotary: _Rotary | None) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = _Attention(cfg, rotary)
        self.ln2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias),
            nn.GELU(),
            nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias),
            nn.Dropout(cfg.dropout),
        )

    def forward(
        self, x: torch.Tensor, start: int, cache: KVCache | None, layer: int
    ) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), start, cache, layer)
        return x + self.mlp(self.ln2(x))


class TransformerLM(nn.Module):
    """Decoder-only Transformer: token ids -> next-token logits.

    Parameters
    ----------
    config : TransformerConfig

    Examples
    --------
    >>> cfg = TransformerConfig(vocab_size=300, n_layer=2, n_head=4, n_embd=64, block_size=128)
    >>> model = TransformerLM(cfg).eval()
    >>> ids = torch.randint(0, 300, (1, 10))
    >>> logits, _ = model(ids)
    >>> logits.shape
    torch.Size([1, 10, 300])
    >>> cache = model.new_cache(1)
    >>> _ = model(ids[:, :9], cache=cache)
    >>> step, cache = model(ids[:, 9:], cache=cache)  # position 9 from the cache
    >>> bool(torch.allclose(step[:, -1], logits[:, -1], atol=1e-5))
    True
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise ParameterError(f"config must be a TransformerConfig, got {type(config).__name__}")
        self.config = cfg = config
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = (
            nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.positions == "learned" else None
        )
        self.rotary = (
            _Rotary(cfg.n_embd // cfg.n_head, cfg.block_size, cfg.rope_base)
            if cfg.positions == "rotary"
            else None
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(_Block(cfg, self.rotary) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        # GPT-2: scale the residual output projections by 1/sqrt(2 * depth) so the
        # residual stream's variance does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def block_size(self) -> int:
        """Longest context the model accepts."""
        return self.config.block_size

    def num_parameters(self) -> int:
        """Trainable parameters (a tied weight counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def new_cache(self, batch_size: int = 1) -> KVCache:
        """An empty :class:`KVCache` on the model's device and dtype."""
        p = self.tok_emb.weight
        return KVCache(self.config, batch_size, device=p.device, dtype=p.dtype)

    def forward(
        self,
        ids: torch.Tensor,
        *,
        cache: KVCache | None = None,
        start_pos: int | None = None,
    ) -> tuple[torch.Tensor, KVCache | None]:
        """Logits of the next token at every position.

        Parameters
        ----------
        ids : torch.Tensor, shape (B, T), integer
            Token ids.
        cache : KVCache, optional
            Keys/values of earlier tokens (from :meth:`new_cache`). ``ids`` continue
            them: their absolute positions start at ``cache.length``; the cache is
            extended in place. Without a cache, attention is causal over ``ids`` only.
        start_pos : int, optional
            Absolute position of ``ids[:, 0]`` (for positions and rotary angles).
            Defaults to ``cache.length`` (0 without a cache); with a cache it must
            equal ``cache.length``.

        Returns
        -------
        logits : torch.Tensor, shape (B, T, vocab_size)
        cache : KVCache or None
            The (updated) cache passed in.

        Raises
        ------
        ParameterError
            Bad ids shape/values, or positions beyond ``block_size``.
        """
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ParameterError(f"ids must have shape (batch, time>0), got {tuple(ids.shape)}")
        if ids.dtype.is_floating_point:
            raise ParameterError(f"ids must be integer token ids, got dtype {ids.dtype}")
        b, t = ids.shape
        past = 0 if cache is None else cache.length
        if start_pos is None:
            start_pos = past
        if cache is not None:
            if start_pos != past:
                raise ParameterError(
                    f"start_pos={start_pos} but the cache holds {past} tokens; with a cache "
                    "the new tokens start right after the cached ones"
                )
            if b != cache.batch_size:
                raise ParameterError(f"batch of {b} does not fit a cache for {cache.batch_size}")
        if start_pos < 0 or start_pos + t > self.config.block_size:
            raise ParameterError(
                f"positions {start_pos}..{start_pos + t - 1} exceed block_size="
                f"{self.config.block_size}; crop the context (generate() slides a window)"
            )
        x = self.tok_emb(ids)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(start_pos, start_pos + t, device=ids.device))
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, start_pos, cache, i)
        if cache is not None:
            cache.length += t
        return self.lm_head(self.ln_f(x)), cache

    def step(self, ids: torch.Tensor, cache: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        """Incremental decoding (used by :func:`~torchmusic.models.symbolic.generate`):
        feed ``ids`` after ``cache`` (a fresh one when None); returns the last logits
        ``(B, V)`` and the cache."""
        if cache is None:
            cache = self.new_cache(ids.shape[0])
        logits, cache = self(ids, cache=cache)
        return logits[:, -1], cache


register_generator("transformer", TransformerConfig, TransformerLM, kind="tokens")
