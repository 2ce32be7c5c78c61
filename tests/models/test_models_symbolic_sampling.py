"""generate(): seeded sampling, cached == uncached token for token, sliding window, errors."""

from __future__ import annotations

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.symbolic import (
    LSTMConfig,
    LSTMLanguageModel,
    TransformerConfig,
    TransformerLM,
    filter_logits,
    generate,
    sample_next,
)

V = 30


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _transformer(positions="rotary", block_size=16):
    torch.manual_seed(0)
    cfg = TransformerConfig(
        vocab_size=V, n_layer=2, n_head=2, n_embd=16, block_size=block_size, positions=positions
    )
    return TransformerLM(cfg)


def _lstm():
    torch.manual_seed(0)
    return LSTMLanguageModel(LSTMConfig(vocab_size=V, n_embd=8, hidden=16))


MODELS = {
    "rotary": lambda: _transformer("rotary"),
    "learned": lambda: _transformer("learned"),
    "lstm": _lstm,
}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize(
    "settings", [{"temperature": 1.0}, {"temperature": 0.8, "top_k": 5, "top_p": 0.9}]
)
def test_cached_equals_uncached(name, settings):
    model = MODELS[name]()
    # 40 new tokens after a 5-token prompt: past block_size=16, so the window slides
    # (several times) and both paths must crop the context identically.
    kw = dict(max_new_tokens=40, seed=123, **settings)
    cached = generate(model, [1, 2, 3, 4, 5], use_cache=True, **kw)
    uncached = generate(model, torch.tensor([[1, 2, 3, 4, 5]]), use_cache=False, **kw)
    assert len(cached) == 40
    assert cached == uncached
    assert len(set(cached)) > 3  # really sampled, not a constant
    assert model.training  # built in train mode, switched to eval and back


def test_seed_reproducible_and_mode_restored():
    model = _transformer().train()
    a = generate(model, [3], max_new_tokens=30, seed=7)
    assert model.training  # generation switches to eval and back
    assert a == generate(model, [3], max_new_tokens=30, seed=7)
    assert a != generate(model, [3], max_new_tokens=30, seed=8)


def test_greedy_and_top_k_1_agree():
    model = _transformer()
    greedy = generate(model, [1, 2], max_new_tokens=20, temperature=0)
    assert greedy == generate(model, [1, 2], max_new_tokens=20, top_k=1, seed=5)
    logits, _ = model.eval()(torch.tensor([[1, 2]]))
    assert greedy[0] == int(logits[0, -1].argmax())


def test_stop_eos_and_suppress():
    model = _lstm()
    free = generate(model, [1], max_new_tokens=50, seed=0)
    eos = free[10]
    first = free.index(eos)
    assert generate(model, [1], max_new_tokens=50, seed=0, eos_id=eos) == free[:first]
    short = generate(model, [1], max_new_tokens=50, seed=0, stop=lambda new: len(new) >= 4)
    assert short == free[:4]
    banned = set(range(0, V, 2))
    out = generate(model, [1], max_new_tokens=50, seed=0, suppress=sorted(banned))
    assert not banned & set(out)


def test_filter_logits():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    probs = filter_logits(logits, top_p=0.7)  # 0.5 < 0.7 so the second token is kept
    torch.testing.assert_close(probs, torch.tensor([0.625, 0.375, 0.0, 0.0]))
    probs = filter_logits(logits, top_k=3)
    assert probs[3] == 0 and torch.isclose(probs.sum(), torch.tensor(1.0))
    assert filter_logits(logits, top_p=0.01).tolist() == [1.0, 0.0, 0.0, 0.0]
    gen = torch.Generator().manual_seed(0)
    draws = sample_next(logits.repeat(2000, 1), top_k=2, generator=gen)
    assert set(draws.tolist()) == {0, 1}
    assert 0.55 < (draws == 0).float().mean() < 0.70  # 0.5 / 0.8 = 0.625


def test_bad_input():
    model = _transformer(block_size=16)
    with pytest.raises(ParameterError, match="longer than the model's context of 16"):
        generate(model, list(range(17)), max_new_tokens=1)
    with pytest.raises(ParameterError, match="empty"):
        generate(model, [], max_new_tokens=1)
    with pytest.raises(ParameterError, match="outside the vocabulary"):
        generate(model, [V], max_new_tokens=1)
    with pytest.raises(ParameterError, match="top_p"):
        generate(model, [1], max_new_tokens=1, top_p=0)
    with pytest.raises(ParameterError, match="temperature"):
        generate(model, [1], max_new_tokens=1, temperature=-1)
    with pytest.raises(ParameterError, match="keep"):
        generate(model, [1], max_new_tokens=1, keep=16)
    with pytest.raises(ParameterError, match="not a token language model"):
        generate(torch.nn.Linear(2, 2), [1], max_new_tokens=1)
    # A prompt of exactly block_size tokens is fine (the window slides at once).
    assert len(generate(model, list(range(16)), max_new_tokens=3, seed=0)) == 3


def test_degenerate_temperatures_are_greedy_uniform_or_refused():
    # 1e-39 overflows float32 (logit / T = inf) and used to give NaN probabilities
    # and the last token; 1e300 rounds to inf in float32 (0 / NaN logits).
    logits = torch.tensor([[2.0, 1.0, float("-inf"), 0.5]])
    gen = torch.Generator().manual_seed(0)
    for tiny in (1e-39, 5e-324):
        assert torch.equal(filter_logits(logits, temperature=tiny)[0].float(), torch.eye(4)[0])
        assert int(sample_next(logits, temperature=tiny, generator=gen)[0]) == 0
    flat = filter_logits(logits, temperature=1e300)[0]
    assert torch.allclose(flat.float(), torch.tensor([1 / 3, 1 / 3, 0.0, 1 / 3]))
    for bad in (float("inf"), float("nan")):
        with pytest.raises(ParameterError, match=f"temperature={bad!r} must be a finite"):
            sample_next(logits, temperature=bad)
    model = _transformer()
    a = generate(model, [1, 2], max_new_tokens=12, temperature=1e-39, seed=0)
    b = generate(model, [1, 2], max_new_tokens=12, temperature=1e-39, seed=0, use_cache=False)
    assert a == b == generate(model, [1, 2], max_new_tokens=12, temperature=0)
