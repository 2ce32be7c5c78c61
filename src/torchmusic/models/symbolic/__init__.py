"""Generative models of symbolic music: plain ``nn.Module`` networks, sampling, model files.

- :class:`TransformerLM` (GPT-style, causal SDPA, rotary or learned positions, KV
  cache) and :class:`LSTMLanguageModel` over token ids;
- :class:`MusicVAE` (BiLSTM encoder, flat or hierarchical LSTM decoder, slerp walks);
- :class:`~torchmusic.models.symbolic.pianoroll.PianoRollModel` for 88-key piano rolls
  (exact frame likelihood), imported on first use;
- :func:`generate`: temperature / top-k / top-p sampling, seeded, cached or not
  (same tokens), sliding window past the context;
- :func:`save_generator` / :func:`load_generator`: single-file safetensors model files
  with the tokenizer and condition vocabulary embedded.

The models see token ids only: condition tokens (tune type, key, ...) are ids after
the tokenizer's vocabulary, built into the prompt by the data layer, and counted in
``vocab_size``. No training code lives here (that is :mod:`torchmusic.training`).

Examples
--------
>>> from torchmusic.models.symbolic import build_generator, generate
>>> model = build_generator("transformer", vocab_size=300, n_layer=2, n_embd=64, n_head=4)
>>> len(generate(model, [1, 2, 3], max_new_tokens=16, top_p=0.95, seed=0))
16
"""

from __future__ import annotations

from typing import Any

from torchmusic.models.symbolic.genfile import (
    GeneratorSpec,
    load_generator,
    read_generator_spec,
    save_generator,
)
from torchmusic.models.symbolic.lstm import LSTMConfig, LSTMLanguageModel
from torchmusic.models.symbolic.registry import (
    GENERATORS,
    build_generator,
    generator_architecture_of,
    get_generator,
    make_generator_config,
    register_generator,
)
from torchmusic.models.symbolic.sampling import filter_logits, generate, sample_next
from torchmusic.models.symbolic.transformer import KVCache, TransformerConfig, TransformerLM
from torchmusic.models.symbolic.vae import MusicVAE, MusicVAEConfig, slerp

# Owned by the piano-roll module; imported lazily so that this package works (and
# imports fast) before and without it.
_LAZY = {"PianoRollConfig", "PianoRollModel"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from torchmusic.models.symbolic import pianoroll

        return getattr(pianoroll, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GENERATORS",
    "GeneratorSpec",
    "KVCache",
    "LSTMConfig",
    "LSTMLanguageModel",
    "MusicVAE",
    "MusicVAEConfig",
    "PianoRollConfig",
    "PianoRollModel",
    "TransformerConfig",
    "TransformerLM",
    "build_generator",
    "filter_logits",
    "generate",
    "generator_architecture_of",
    "get_generator",
    "load_generator",
    "make_generator_config",
    "read_generator_spec",
    "register_generator",
    "sample_next",
    "save_generator",
    "slerp",
]
