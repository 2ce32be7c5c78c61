"""The blocked CPU inference path and the "native" FFT precision.

Inference on CPU (no gradient needed) goes through ``blocked_spectrogram``; the
autograd path materialises the whole STFT. Both must give the same numbers, and the
faster "native" precision must stay inside the relative parity budget.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from feature_helpers import assert_rel_close

import torchmusic.features as F
from torchmusic.errors import ParameterError
from torchmusic.features.spectrum import use_blocked_path

SETTINGS = [
    {},
    {"n_fft": 1024, "hop_length": 256, "n_mels": 64, "fmin": 30.0, "fmax": 8000.0},
    {"center": False, "power": 1.0, "htk": True, "norm": None},
    {"win_length": 1024, "pad_mode": "reflect"},
]


@pytest.mark.parametrize("kwargs", SETTINGS, ids=str)
def test_blocked_path_equals_autograd_path(kwargs):
    y = torch.randn(3, 22050 * 4, generator=torch.Generator().manual_seed(0))
    assert use_blocked_path(y)
    fast = F.melspectrogram(y, **kwargs)
    y_grad = y.clone().requires_grad_(True)
    assert not use_blocked_path(y_grad)
    slow = F.melspectrogram(y_grad, **kwargs).detach()
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6 * float(slow.abs().max()))


def test_blocked_spectrogram_spans_several_blocks_and_items():
    # 40 s at hop 128 is ~6,900 frames: many blocks, and a short last block.
    y = torch.randn(2, 22050 * 40, generator=torch.Generator().manual_seed(1))
    fast = F.spectrogram(y, power=2.0, hop_length=128)
    slow = F.stft(y, hop_length=128).abs() ** 2
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6 * float(slow.abs().max()))


def test_module_uses_same_numbers_as_function():
    y = torch.randn(2, 22050 * 3, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(F.MelSpectrogram(n_mels=40)(y), F.melspectrogram(y, n_mels=40))


def test_native_precision_within_relative_budget(shared_data):
    import soundfile as sf

    y, sr = sf.read(shared_data / "recordings" / "pibble.ogg", dtype="float32")
    y = y[: 10 * sr]
    ref = librosa.feature.melspectrogram(y=y, sr=sr)
    with F.fft_precision("native"):
        ours = F.melspectrogram(torch.from_numpy(y), sr=sr)
    assert_rel_close(ours, ref, "melspectrogram[native]")
    # Outside the block the default (exact) precision is back.
    exact = F.melspectrogram(torch.from_numpy(y), sr=sr)
    assert float(np.abs(exact.numpy() - ref).max()) <= float(np.abs(ours.numpy() - ref).max())


def test_unknown_fft_precision_is_rejected():
    with pytest.raises(ParameterError, match="'double'"), F.fft_precision("double"):
        pass


def test_filterbanks_first_built_in_inference_mode_still_train():
    # Regression: cached filterbanks/windows made inside inference_mode were inference
    # tensors, and any later training step through them failed.
    F.filters.cache_clear()
    settings = {"n_fft": 512, "hop_length": 128, "n_mels": 24, "fmax": 7000.0}
    with torch.inference_mode():
        F.MFCC(n_mfcc=13, **settings)(torch.randn(2, 4000))
        F.melspectrogram(torch.randn(4000), **settings)
    y = torch.randn(4000, requires_grad=True)
    F.mfcc(y, n_mfcc=13, **settings).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()


@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "edge", "symmetric"])
@pytest.mark.parametrize("hop_length", [100, 512, 700, 2048])
@pytest.mark.parametrize("length", [600, 1500, 2048, 2049, 2600, 4103, 9000])
def test_blocked_framing_matches_librosa_at_signal_edges(length, hop_length, pad_mode):
    # The blocked path frames the padded head and tail separately from the unpadded
    # middle: every boundary case (head and tail frames overlapping, no frame in the
    # right padding, a hop longer than the padding) must give librosa's frames.
    y = np.random.default_rng(length + hop_length).standard_normal(length).astype(np.float32)
    ref = np.abs(librosa.stft(y, n_fft=2048, hop_length=hop_length, pad_mode=pad_mode)) ** 2
    ours = F.spectrogram(torch.from_numpy(y), power=2.0, hop_length=hop_length, pad_mode=pad_mode)
    assert ours.shape == ref.shape
    assert_rel_close(ours, ref, f"spectrogram[{length}, {hop_length}, {pad_mode}]")


def test_block_workers_give_the_single_thread_numbers_and_keep_the_callers_threads():
    y = torch.randn(3, 22050 * 20, generator=torch.Generator().manual_seed(3))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = F.power_to_db(F.melspectrogram(y), top_db=80.0)
        torch.set_num_threads(2)
        with torch.inference_mode():  # inference tensors are written by the workers
            two = F.power_to_db(F.melspectrogram(y), top_db=80.0)
        assert torch.get_num_threads() == 2  # restored after the single-threaded part
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)


def test_features_outside_inference_mode_after_a_call_inside_it(monkeypatch):
    # Regression: the per-thread block buffer was made as an inference tensor by a
    # first call under inference_mode (as Predictor runs), and a later call on the
    # same thread outside it failed ("Inplace update to inference tensor").
    import threading

    from torchmusic.features import spectrum

    y = torch.randn(22050 * 2, generator=torch.Generator().manual_seed(4))
    before = torch.get_num_threads()
    monkeypatch.setattr(spectrum, "_local", threading.local())  # no buffer yet
    try:
        torch.set_num_threads(1)  # blocks on this thread: its buffer is the one made here
        with torch.inference_mode():
            inside = F.melspectrogram(y)
        outside = F.melspectrogram(y)
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(inside, outside, rtol=0, atol=0)


def test_a_forked_child_starts_without_the_parents_block_pool():
    # DataLoader workers fork (and run torch on one thread: GNU OpenMP itself cannot be
    # used with more threads after a fork). The child must not inherit the parent's
    # pool, whose threads do not exist there, nor a lock one of them may have held.
    import multiprocessing

    y = torch.randn(2, 22050 * 10, generator=torch.Generator().manual_seed(5))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = F.melspectrogram(y)  # the parent's pool exists now
        with multiprocessing.get_context("fork").Pool(1) as pool:
            inherited, got = pool.apply_async(_child_mel, (y,)).get(timeout=120)
    finally:
        torch.set_num_threads(before)
    assert not inherited
    assert torch.equal(got, expected)


def _child_mel(y):
    from torchmusic.features import spectrum

    torch.set_num_threads(1)
    return spectrum._pool is not None, F.melspectrogram(y)
