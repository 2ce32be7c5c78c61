"""Piano-roll model: exact likelihood (normalised, causal, hand-checked), sampling, model files."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.symbolic.pianoroll import PianoRollConfig, PianoRollModel, to_roll_batch
from torchmusic.symbolic.likelihood import frame_log_probs, frame_nll

# Small enough to run in milliseconds; each variant switches on different inputs.
VARIANTS = {
    "tied": dict(time_hidden=8, frame_hidden=0),
    "frame": dict(time_hidden=0, frame_hidden=8, frame_proj=4, beat=3),
    "both": dict(time_hidden=6, frame_hidden=6, frame_proj=3, pitch_embed=0),
}


def tiny(n_keys: int = 4, seed: int = 0, **kw) -> PianoRollModel:
    torch.manual_seed(seed)
    settings = dict(n_keys=n_keys, window=1, pitch_embed=2, note_hidden=8, dropout=0.0)
    settings.update(VARIANTS["tied"])
    settings.update(kw)
    model = PianoRollModel(PianoRollConfig(**settings)).eval()
    with torch.no_grad():  # a non-zero per-key prior, so keys are not interchangeable
        model.key_bias.copy_(torch.linspace(-1.0, 1.5, n_keys))
    return model


def all_frames(n_keys: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_keys)))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_log_prob_is_a_distribution_over_all_frames(variant: str) -> None:
    model = tiny(4, **VARIANTS[variant])
    frames = all_frames(4)  # the 16 possible frames of 4 keys
    # First frame (empty past): probabilities of the 16 frames sum to 1.
    first = model.log_prob(frames[:, None, :])[:, 0]
    assert torch.logsumexp(first, 0).item() == pytest.approx(0.0, abs=1e-5)
    # A later frame given a fixed non-empty past: again 1, and the past's own
    # log-probabilities do not depend on the frame that follows.
    past = torch.tensor([[1.0, 0, 0, 1], [0, 1, 1, 0]])
    rolls = torch.cat([past.expand(16, -1, -1), frames[:, None, :]], dim=1)
    lp = model.log_prob(rolls)
    assert torch.logsumexp(lp[:, 2], 0).item() == pytest.approx(0.0, abs=1e-5)
    assert torch.allclose(lp[:, :2], lp[:1, :2].expand(16, -1))
    assert (lp <= 0).all()


def test_log_prob_matches_hand_computed_values() -> None:
    # Output weights zeroed: each key is an independent Bernoulli(sigmoid(bias_k)),
    # whatever the past, so log p(frame) is a sum of known logs.
    model = tiny(4)
    probs = [0.5, 0.25, 0.9, 0.1]
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
        model.key_bias.copy_(torch.tensor([math.log(p / (1 - p)) for p in probs]))
    a = np.array([[1, 0, 1, 0], [0, 0, 0, 0]], dtype=bool)
    b = np.array([[1, 1, 1, 1]], dtype=bool)
    lp_a = [
        math.log(0.5) + math.log(0.75) + math.log(0.9) + math.log(0.9),
        math.log(0.5) + math.log(0.75) + math.log(0.1) + math.log(0.9),
    ]
    lp_b = math.log(0.5) + math.log(0.25) + math.log(0.9) + math.log(0.1)
    got = frame_log_probs(model, [a, b], batch_size=2)
    np.testing.assert_allclose(got[0], lp_a, rtol=1e-5)
    np.testing.assert_allclose(got[1], [lp_b], rtol=1e-5)
    # The protocol averages over all 3 frames (not over the 2 pieces).
    assert frame_nll(model, [a, b]) == pytest.approx(-(sum(lp_a) + lp_b) / 3, rel=1e-5)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_logits_are_causal_in_time_and_along_keys(variant: str) -> None:
    model = tiny(6, **VARIANTS[variant])
    torch.manual_seed(1)
    roll = (torch.rand(1, 5, 6) < 0.5).float()
    base = model.logits(roll)
    later = roll.clone()
    later[0, 3:] = 1 - later[0, 3:]  # change frames 3 and 4
    assert torch.allclose(model.logits(later)[0, :3], base[0, :3])
    above = roll.clone()
    above[0, 2, 3:] = 1 - above[0, 2, 3:]  # change keys 3..5 of frame 2
    changed = model.logits(above)
    assert torch.allclose(changed[0, 2, :4], base[0, 2, :4])  # key 3 sees only keys 0..2
    assert not torch.allclose(changed[0, 3], base[0, 3])  # the next frame does see them


def test_padding_does_not_change_log_probs() -> None:
    model = tiny(88, window=3, **VARIANTS["both"])
    rng = np.random.default_rng(0)
    pieces = [rng.random((n, 88)) < 0.05 for n in (3, 7, 1)]
    roll, lengths = to_roll_batch(pieces)
    batched = model.log_prob(roll, lengths=lengths)
    for i, piece in enumerate(pieces):
        alone = model.log_prob(torch.as_tensor(piece, dtype=torch.float32)[None])[0]
        assert torch.allclose(batched[i, : len(piece)], alone, atol=1e-5)
        assert (batched[i, len(piece) :] == 0).all()


def test_sample_is_seeded_and_its_log_prob_is_exact() -> None:
    model = tiny(8, **VARIANTS["both"])
    prime = np.zeros((2, 8), dtype=bool)
    prime[:, [1, 4]] = True
    x1, lp1 = model.sample(6, prime=prime, seed=7, return_log_prob=True)
    x2 = model.sample(6, prime=prime, seed=7)
    assert x1.shape == (6, 8) and x1.dtype == torch.bool
    assert torch.equal(x1, x2)
    assert not torch.equal(x1, model.sample(6, prime=prime, seed=8))
    full = torch.cat([torch.as_tensor(prime), x1]).float()[None]
    assert model.log_prob(full)[0, 2:].sum().item() == pytest.approx(lp1, abs=1e-4)
    assert model.training is False  # restored (it was in eval mode)


def test_low_temperature_picks_the_likelier_value() -> None:
    model = tiny(4)
    with torch.no_grad():
        model.out.weight.zero_()
        model.key_bias.copy_(torch.tensor([3.0, -3.0, 0.5, -0.5]))
    x = model.sample(5, temperature=1e-3, seed=0)
    assert x.tolist() == [[True, False, True, False]] * 5


def test_bad_inputs_are_parameter_errors() -> None:
    model = tiny(4)
    with pytest.raises(ParameterError, match="expected"):
        model.log_prob(torch.zeros(1, 3, 5))
    with pytest.raises(ParameterError, match="0/1"):
        model.log_prob(torch.full((1, 2, 4), 0.5))
    with pytest.raises(ParameterError, match="lengths"):
        model.log_prob(torch.zeros(2, 3, 4), lengths=torch.tensor([3, 4]))
    with pytest.raises(ParameterError, match="prime"):
        model.sample(2, prime=np.zeros((2, 5)))
    with pytest.raises(ParameterError, match="temperature"):
        model.sample(2, temperature=0)
    with pytest.raises(ParameterError, match="time_hidden or frame_hidden"):
        PianoRollConfig(time_hidden=0, frame_hidden=0)
    with pytest.raises(ParameterError, match="dropout"):
        PianoRollConfig(dropout=1.5)


def test_generator_file_round_trip(tmp_path: Path) -> None:
    from torchmusic.models.symbolic import (
        GeneratorSpec,
        build_generator,
        load_generator,
        save_generator,
    )

    model = build_generator("pianoroll", time_hidden=4, note_hidden=4, frame_hidden=4).eval()
    path = save_generator(
        tmp_path / "roll.safetensors",
        model,
        GeneratorSpec("pianoroll", {}, None, None, "pianoroll"),
    )
    loaded, spec = load_generator(path, kind="pianoroll")
    roll = torch.zeros(1, 3, 88)
    roll[0, :, 40] = 1
    assert spec.kind == "pianoroll" and spec.model_config["frame_hidden"] == 4
    assert torch.allclose(loaded.log_prob(roll), model.log_prob(roll))
