"""TransformerLM and LSTMLanguageModel: shapes, causality, KV cache / state equivalence."""

from __future__ import annotations

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.symbolic import (
    LSTMConfig,
    LSTMLanguageModel,
    TransformerConfig,
    TransformerLM,
    build_generator,
)

V = 40


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _transformer(positions="rotary", block_size=32, **kw):
    torch.manual_seed(0)
    cfg = TransformerConfig(
        vocab_size=V, n_layer=2, n_head=2, n_embd=16, block_size=block_size,
        positions=positions, **kw,
    )  # fmt: skip
    return TransformerLM(cfg).double().eval()


def _ids(b=2, t=12, seed=1):
    return torch.randint(0, V, (b, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("positions", ["rotary", "learned"])
def test_shapes_and_tied_weights(positions):
    model = _transformer(positions)
    logits, cache = model(_ids())
    assert logits.shape == (2, 12, V)
    assert cache is None
    assert model.lm_head.weight is model.tok_emb.weight
    untied = _transformer(positions, tie_weights=False)
    assert untied.num_parameters() == model.num_parameters() + V * 16


@pytest.mark.parametrize("positions", ["rotary", "learned"])
def test_causal(positions):
    model = _transformer(positions)
    ids = _ids()
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1) % V
    a, _ = model(ids)
    b, _ = model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7], rtol=0, atol=1e-12)
    assert not torch.allclose(a[:, 7:], b[:, 7:])


@pytest.mark.parametrize("positions", ["rotary", "learned"])
def test_kv_cache_matches_full_forward(positions):
    model = _transformer(positions)
    ids = _ids(t=20)
    full, _ = model(ids)
    cache = model.new_cache(2)
    # A prefix, a chunk of several tokens after a cached past, then single tokens.
    parts = [ids[:, :8], ids[:, 8:13]] + [ids[:, i : i + 1] for i in range(13, 20)]
    out = []
    for part in parts:
        logits, cache = model(part, cache=cache)
        out.append(logits)
    assert cache.length == 20
    torch.testing.assert_close(torch.cat(out, dim=1), full, rtol=0, atol=1e-10)


def test_rotary_uses_absolute_offset():
    model = _transformer("rotary")
    ids = _ids(t=10)
    # The cached step must rotate the new query/key by its absolute position 9.
    cache = model.new_cache(2)
    model(ids[:, :9], cache=cache)
    step, _ = model(ids[:, 9:], cache=cache)
    full, _ = model(ids)
    torch.testing.assert_close(step[:, 0], full[:, 9], rtol=0, atol=1e-10)
    # Rotary attention depends on relative positions only: an offset changes nothing,
    # whereas a learned table does see it.
    shifted, _ = model(ids, start_pos=7)
    torch.testing.assert_close(shifted, full, rtol=0, atol=1e-10)
    learned = _transformer("learned")
    assert not torch.allclose(learned(ids, start_pos=7)[0], learned(ids)[0])


def test_context_and_argument_errors():
    model = _transformer(block_size=8)
    with pytest.raises(ParameterError, match="block_size=8"):
        model(_ids(t=9))
    cache = model.new_cache(2)
    model(_ids(t=6), cache=cache)
    with pytest.raises(ParameterError, match="exceed block_size"):
        model(_ids(t=3), cache=cache)
    with pytest.raises(ParameterError, match="start_pos=0"):
        model(_ids(t=1), cache=cache, start_pos=0)
    with pytest.raises(ParameterError, match="batch of 1"):
        model(_ids(b=1, t=1), cache=cache)
    with pytest.raises(ParameterError, match="shape"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ParameterError, match="divisible"):
        TransformerConfig(vocab_size=V, n_embd=30, n_head=4)
    with pytest.raises(ParameterError, match="even head size"):
        TransformerConfig(vocab_size=V, n_embd=6, n_head=2)
    with pytest.raises(ParameterError, match="positions"):
        TransformerConfig(vocab_size=V, positions="alibi")
    with pytest.raises(ParameterError, match="unknown setting"):
        build_generator("transformer", vocab_size=V, n_layers=2)


def test_lstm_shapes_causality_and_state():
    torch.manual_seed(0)
    model = LSTMLanguageModel(LSTMConfig(vocab_size=V, n_embd=8, hidden=16)).double().eval()
    ids = _ids(t=15)
    full, (h, c) = model(ids)
    assert full.shape == (2, 15, V) and h.shape == c.shape == (2, 2, 16)
    changed = ids.clone()
    changed[:, 10] = (changed[:, 10] + 1) % V
    other, _ = model(changed)
    torch.testing.assert_close(full[:, :10], other[:, :10], rtol=0, atol=0)
    assert not torch.allclose(full[:, 10:], other[:, 10:])
    first, state = model(ids[:, :9])
    rest, _ = model(ids[:, 9:], state=state)
    torch.testing.assert_close(torch.cat((first, rest), 1), full, rtol=0, atol=1e-10)
    with pytest.raises(ParameterError, match="hidden"):
        LSTMConfig(vocab_size=V, hidden=0)
