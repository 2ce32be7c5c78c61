"""Batch augmentations in plain torch: gain, SpecAugment masks, mixup."""

from __future__ import annotations

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.training.augment import (
    augment_batch,
    freq_mask,
    mixup,
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


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: random_gain(torch.zeros(2, 3), max_db=-1.0), "max_db=-1.0"),
        (lambda: random_gain(torch.zeros(2, 3), max_db=1.0, scale="bel"), "scale='bel'"),
        (lambda: time_mask(torch.zeros(2, 3), max_width=1), "at least 3 dimensions"),
        (lambda: freq_mask(torch.zeros(2, 3, 4), max_width=-2), "max_width=-2"),
        (lambda: time_mask(torch.zeros(2, 3, 4), max_width=1, n_masks=0), "n_masks=0"),
        (lambda: mixup(torch.zeros(2, 3), torch.zeros(3, 2), alpha=0.2), "shape"),
        (lambda: mixup(torch.zeros(2, 3), torch.zeros(2, 2), alpha=0.0), "alpha=0.0"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
