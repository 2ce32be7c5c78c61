"""Batch augmentations in plain torch: gain, EQ, frequency shift, SpecAugment masks, mixup."""

from __future__ import annotations

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.training.augment import (
    augment_batch,
    freq_mask,
    freq_shift,
    mixup,
    random_eq,
    random_gain,
    time_mask,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_gain_in_db_adds_one_offset_per_example_within_range():
    x = torch.randn(64, 8, 20)
    y = random_gain(x, max_db=6.0, generator=_gen())
    offset = y - x
    per_example = offset.flatten(1)
    assert torch.allclose(per_example, per_example[:, :1].expand_as(per_example), atol=1e-5)
    assert per_example.abs().max() <= 6.0
    assert per_example[:, 0].std() > 1.0  # not a constant: gains differ between examples


@pytest.mark.parametrize("scale,divisor", [("amplitude", 20.0), ("power", 10.0)])
def test_gain_on_linear_scales_multiplies(scale, divisor):
    x = torch.rand(16, 4, 5) + 0.1
    y = random_gain(x, max_db=10.0, scale=scale, generator=_gen(1))
    ratio_db = divisor * torch.log10(y / x)
    assert ratio_db.abs().max() <= 10.0 + 1e-4
    assert torch.allclose(ratio_db.flatten(1).std(dim=1), torch.zeros(16), atol=1e-4)


def test_zero_gain_is_a_copy_not_the_input():
    x = torch.randn(2, 3, 4)
    y = random_gain(x, max_db=0.0)
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()


def test_time_mask_hides_at_most_max_width_frames_with_the_fill_value():
    x = torch.randn(32, 8, 50) + 100.0  # far from the fill value
    y = time_mask(x, max_width=10, value=0.0, generator=_gen(2))
    masked = (y == 0.0).all(dim=1)  # (batch, frames): whole columns masked
    assert masked.sum(dim=1).max() <= 10
    assert masked.any()
    assert torch.equal(y[~(y == 0.0)], x[~(y == 0.0)])  # the rest is untouched
    # Masked frames are contiguous (one mask per example).
    for row in masked:
        idx = row.nonzero().flatten()
        if len(idx):
            assert idx[-1] - idx[0] + 1 == len(idx)


def test_freq_mask_masks_rows_and_defaults_to_the_example_mean():
    x = torch.randn(16, 40, 30)
    y = freq_mask(x, max_width=8, n_masks=2, generator=_gen(3))
    changed_rows = (y != x).any(dim=2)  # (batch, bins)
    assert changed_rows.sum(dim=1).max() <= 16  # two masks of <= 8 bins
    b, row = changed_rows.nonzero()[0].tolist()
    assert torch.allclose(y[b, row], x[b].mean().expand(30))


def test_masks_do_not_modify_the_input():
    x = torch.randn(4, 8, 20)
    before = x.clone()
    time_mask(x, max_width=5)
    freq_mask(x, max_width=3)
    assert torch.equal(x, before)


def test_mixup_blends_inputs_and_targets_consistently():
    torch.manual_seed(0)
    x = torch.arange(8, dtype=torch.float32).view(8, 1, 1).expand(8, 2, 3).contiguous()
    y = torch.eye(8)
    xm, ym, lam = mixup(x, y, alpha=0.4)
    assert xm.shape == x.shape and ym.shape == (8, 8) and lam.shape == (8,)
    assert ((lam >= 0) & (lam <= 1)).all()
    assert torch.allclose(ym.sum(dim=1), torch.ones(8))
    # The input value k of an example equals sum_k k * target_k: same weights.
    assert torch.allclose(xm[:, 0, 0], ym @ torch.arange(8, dtype=torch.float32), atol=1e-5)


def test_augment_batch_follows_the_settings():
    torch.manual_seed(0)
    x = torch.randn(8, 16, 40)
    assert torch.equal(augment_batch(x, settings={}), x)
    y = augment_batch(x, settings={"gain_db": 3.0, "time_mask": 0.2, "freq_mask": 0.2})
    assert y.shape == x.shape and not torch.equal(y, x)


def test_freq_shift_moves_whole_spectra_by_at_most_max_bins_repeating_edges():
    # Each example's bins hold their index: a shift of k reads bin f - k (clamped).
    x = torch.arange(10.0).view(1, 10, 1).repeat(64, 1, 3)
    y = freq_shift(x, max_bins=2, generator=_gen())
    assert y.shape == x.shape and torch.equal(x[:, :, 0], torch.arange(10.0).expand(64, 10))
    shift = (x - y)[:, 5, 0]  # an interior bin: the exact shift of each example
    assert set(shift.tolist()) == {-2.0, -1.0, 0.0, 1.0, 2.0}
    for i, k in enumerate(shift.long().tolist()):
        expected = (torch.arange(10) - k).clamp(0, 9).float()
        assert torch.equal(y[i, :, 1], expected)  # every frame shifted alike, edges repeated
    assert torch.equal(freq_shift(x, max_bins=0), x)


def test_random_eq_adds_one_smooth_bounded_curve_per_example():
    x = torch.zeros(32, 40, 5)
    y = random_eq(x, max_db=6.0, generator=_gen())
    assert torch.equal(y, y[:, :, :1].expand_as(y))  # the same curve in every frame
    assert y.abs().max() <= 6.0 and y.abs().max() > 1.0
    assert not torch.allclose(y[0], y[1])  # one curve per example
    # Smooth: neighbouring bins differ far less than the curve's range.
    assert (y[:, 1:, 0] - y[:, :-1, 0]).abs().max() < 1.0
    # On a power scale the same curve multiplies.
    p = random_eq(torch.ones(32, 40, 5), max_db=6.0, scale="power", generator=_gen())
    assert torch.allclose(p, torch.pow(10.0, y / 10), rtol=1e-5)


def test_augment_batch_applies_eq_and_freq_shift():
    torch.manual_seed(0)
    x = torch.randn(8, 16, 40)
    assert not torch.equal(augment_batch(x, settings={"eq_db": 6.0}), x)
    shifted = augment_batch(x, settings={"freq_shift": 0.2})
    assert shifted.shape == x.shape and not torch.equal(shifted, x)
    # A shift only moves rows: every output row is one of the example's input rows.
    for i in range(8):
        assert all((shifted[i, f] == x[i]).all(dim=1).any() for f in range(16))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: random_gain(torch.zeros(2, 3), max_db=-1.0), "max_db=-1.0"),
        (lambda: random_gain(torch.zeros(2, 3), max_db=1.0, scale="bel"), "scale='bel'"),
        (lambda: time_mask(torch.zeros(2, 3), max_width=1), "at least 3 dimensions"),
        (lambda: freq_mask(torch.zeros(2, 3, 4), max_width=-2), "max_width=-2"),
        (lambda: time_mask(torch.zeros(2, 3, 4), max_width=1, n_masks=0), "n_masks=0"),
        (lambda: freq_shift(torch.zeros(2, 3, 4), max_bins=-1), "max_bins=-1"),
        (lambda: freq_shift(torch.zeros(2, 3), max_bins=1), "at least 3 dimensions"),
        (lambda: random_eq(torch.zeros(2, 3, 4), max_db=-3.0), "max_db=-3.0"),
        (lambda: random_eq(torch.zeros(2, 3, 4), max_db=3.0, order=0), "order=0"),
        (lambda: mixup(torch.zeros(2, 3), torch.zeros(3, 2), alpha=0.2), "shape"),
        (lambda: mixup(torch.zeros(2, 3), torch.zeros(2, 2), alpha=0.0), "alpha=0.0"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
