"""Music view augmentations (training/embed/augment.py) and the music contrastive recipe."""

from __future__ import annotations

import math

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.training.embed import augment as aug
from torchmusic.training.embed.settings import MUSIC_AUGMENT, EmbedTrainConfig

HOP = 512 / 22050


def _crops(batch: int = 6, frames: int = 60, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # dB-like values: a level per example, a spectral slope, fluctuation.
    level = torch.rand(batch, 1, 1, generator=g) * 30 - 50
    slope = torch.linspace(0, -20, 16).view(1, 16, 1)
    return level + slope + 3 * torch.randn(batch, 16, frames, generator=g)


def test_views_keep_shapes_are_seeded_and_do_not_touch_the_input():
    x = _crops(frames=math.ceil(50 * 1.15))
    before = x.clone()
    a = aug.augment_views(x, settings=MUSIC_AUGMENT, n_frames=50, hop_seconds=HOP,
                          generator=torch.Generator().manual_seed(3))  # fmt: skip
    b = aug.augment_views(x, settings=MUSIC_AUGMENT, n_frames=50, hop_seconds=HOP,
                          generator=torch.Generator().manual_seed(3))  # fmt: skip
    c = aug.augment_views(x, settings=MUSIC_AUGMENT, n_frames=50, hop_seconds=HOP,
                          generator=torch.Generator().manual_seed(4))  # fmt: skip
    assert a.shape == (6, 16, 50)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(x, before)
    assert torch.isfinite(a).all()


def test_time_stretch_of_a_ramp_stays_a_ramp_at_another_tempo():
    ramp = torch.arange(120.0).view(1, 1, 120).expand(4, 2, 120)
    out = aug.time_stretch(ramp, n_frames=100, max_stretch=0.15,
                           generator=torch.Generator().manual_seed(0))  # fmt: skip
    steps = out[:, 0].diff(dim=-1)
    # Each example reads a prefix of 87..115 frames: its slope is constant, in range.
    assert torch.allclose(steps, steps[:, :1].expand_as(steps), atol=1e-4)
    assert ((steps[:, 0] > 86 / 99) & (steps[:, 0] < 116 / 99)).all()
    assert not torch.allclose(steps[:, 0], steps[0, 0].expand(4))  # rates differ
    with pytest.raises(ParameterError, match="frames"):
        aug.time_stretch(ramp, n_frames=200, max_stretch=0.1)


def test_noise_sits_at_the_requested_snr():
    x = _crops(batch=8, frames=400)
    out = aug.add_noise(x, snr_db=(10.0, 10.0), generator=torch.Generator().manual_seed(0))
    # Noise power added = out - x in the power domain; its level is 10 dB below x's.
    p = lambda t: torch.pow(10.0, t / 10).mean(dim=(1, 2))  # noqa: E731
    snr = 10 * torch.log10(p(x) / (p(out) - p(x)))
    assert torch.allclose(snr, torch.full_like(snr, 10.0), atol=0.5)
    untouched = aug.add_noise(x, snr_db=(10.0, 10.0), prob=0.0)
    assert torch.equal(untouched, x)


def test_reverb_only_adds_energy_after_the_onset():
    x = torch.full((2, 4, 50), -100.0)
    x[:, :, 10] = 0.0  # one loud frame
    out = aug.add_reverb(x, hop_seconds=HOP, max_rt60=1.0,
                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    # Before the loud frame only the quiet frames' own faint tail: under 1 dB.
    assert (out[:, :, :10] - x[:, :, :10]).abs().max() < 1.0
    assert (out[:, :, 11:20] > -60).all()  # a tail after it
    assert (out[:, :, 12] < out[:, :, 11]).all()  # that decays


def test_band_limit_and_mix():
    x = _crops(batch=4, frames=20)
    low = aug.band_limit(x, min_cutoff=0.5, generator=torch.Generator().manual_seed(1))
    floor = x.amin(dim=(1, 2))
    assert torch.equal(low[:, :8], x[:, :8])  # below half the bins: untouched
    assert (low[:, -1] == floor.view(4, 1)).all()  # the top bin is cut
    mixed = aug.mix_in(x, max_db=-6.0, generator=torch.Generator().manual_seed(0))
    assert (mixed >= x).all() and (mixed > x).any()  # adding power never lowers a bin


def test_unknown_music_key_is_refused_with_its_name():
    with pytest.raises(ParameterError, match="time_strech"):
        EmbedTrainConfig(data="x", augment={"time_strech": 0.1, "noise_prob": 0.5}).validate()
    with pytest.raises(ParameterError, match="sampling"):
        EmbedTrainConfig(data="x", sampling="by_length").validate()


MUSIC = (
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Hungarian_Dance_number_5_string_orchestra.ogg",
    "147793__setuniman__sweet-waltz-0i-22mi.ogg",
)


@pytest.fixture
def real_clips(shared_data) -> torch.Tensor:
    """Log-mel crops of 3 real music recordings, 4 crops of 70 frames each."""
    from torchmusic import audio
    from torchmusic.features.config import FeatureConfig

    feature = FeatureConfig(kind="logmel", n_mels=32, n_fft=1024, hop_length=512)
    crops = []
    for name in MUSIC:
        y, _ = audio.load(shared_data / "recordings" / name, sr=22050, mono=True, duration=12.0)
        mel = feature.compute(y)
        crops += [mel[:, s : s + 70] for s in (0, 80, 160, 240)]
    return torch.stack(crops)


def test_one_music_contrastive_step_on_real_clips_lowers_the_loss(real_clips):
    from torchmusic.models.embed import build_embedder
    from torchmusic.training.embed.module import EmbedderModule

    torch.manual_seed(0)
    model = build_embedder("contrastive", n_mels=32, n_frames=60, dim=16, proj_dim=8,
                           channels=(8, 16))  # fmt: skip
    module = EmbedderModule(model, kind="contrastive", lr=1e-3, weight_decay=0.0, max_epochs=1,
                            augment=MUSIC_AUGMENT, train_config={})  # fmt: skip
    # Two views of each crop: the same 70 frames, augmented independently.
    views = torch.stack([real_clips, real_clips], dim=1)
    tracks = torch.arange(len(real_clips)) // 4
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def fixed_loss() -> float:
        torch.manual_seed(123)  # the same augmentation draws before and after
        model.eval()
        with torch.no_grad():
            return float(module._loss(views, tracks, train=True))

    before = fixed_loss()
    model.train()
    for _ in range(5):
        loss = module._loss(views, tracks, train=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fixed_loss() < before
