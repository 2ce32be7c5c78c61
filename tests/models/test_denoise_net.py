"""The denoiser network, its losses and its model file.

Shapes at both profiles, parameter budgets, the bounded mask and deep filter, a finite
reach over time (what chunked processing relies on), a model-file round trip, and the
losses on cases whose value is known by hand.
"""

from __future__ import annotations

import math

import pytest
import torch

from torchmusic.errors import DataError, ParameterError


def _net(preset="cpu", **kw):
    from torchmusic.models.denoise import build_denoiser

    torch.manual_seed(0)
    return build_denoiser(preset=preset, **kw).eval()


def _scramble_heads(net, scale=5.0):
    """Large random head weights: pushes the mask and the filter to their bounds."""
    torch.manual_seed(1)
    with torch.no_grad():
        for head in (net.mask_head, net.df_head):
            head.weight.normal_(0, scale)
            head.bias.normal_(0, scale)


@pytest.mark.parametrize(
    ("preset", "sr", "low", "high"), [("cpu", 22050, 0.3e6, 0.5e6), ("gpu", 44100, 1e6, 8e6)]
)
def test_profiles_keep_shape_and_parameter_budget(preset, sr, low, high):
    net = _net(preset)
    assert net.config.sr == sr
    n = sum(p.numel() for p in net.parameters())
    assert low <= n <= high, n
    x = torch.randn(3, sr // 2 + 123) * 0.1  # not a whole number of hops
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    # The untrained network is the identity (mask 1, no filter): training starts from
    # "leave the music alone".
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)
    with torch.no_grad():
        assert net(x[0]).shape == x[0].shape


def test_mask_and_deep_filter_are_bounded():
    net = _net(channels=[8, 16], bottleneck_blocks=1)
    _scramble_heads(net)
    x = torch.randn(2, 8000)
    with torch.no_grad():
        spec = net.stft(x)
        mask, coefs = net.estimate(spec)
    cfg = net.config
    assert mask.shape == spec.shape
    assert float(mask.abs().max()) <= cfg.mask_max + 1e-5
    assert float(mask.abs().max()) > 0.9 * cfg.mask_max  # the bound is reached, not just held
    assert coefs.shape == (2, cfg.df_order, cfg.df_bins, spec.shape[-1])
    assert float(coefs.real.abs().max()) <= cfg.df_max + 1e-6
    assert float(coefs.imag.abs().max()) <= cfg.df_max + 1e-6
    with torch.no_grad():
        out = net(x)
    assert torch.isfinite(out).all()


def test_deep_filter_taps_read_the_documented_frames():
    net = _net(channels=[8, 16], bottleneck_blocks=1, df_order=3, df_lookahead=1, df_bins=4)
    spec = torch.randn(1, net.config.n_bins, 6, dtype=torch.complex64)
    mask = torch.zeros_like(spec)
    coefs = torch.zeros(1, 3, 4, 6, dtype=torch.complex64)
    coefs[:, 0] = 1.0  # tap 0 reads frame t + 1 (the look-ahead)
    out = net.apply(spec, mask, coefs)
    torch.testing.assert_close(out[0, :4, :5], spec[0, :4, 1:])
    assert torch.all(out[0, :4, 5] == 0)  # beyond the last frame: 0
    assert torch.all(out[0, 4:] == 0)  # above df_bins only the mask acts
    coefs.zero_()
    coefs[:, 2] = 1.0  # tap 2 reads frame t - 1
    torch.testing.assert_close(net.apply(spec, mask, coefs)[0, :4, 1:], spec[0, :4, :5])


@pytest.mark.parametrize("floor_frames", [0, 12])
def test_output_depends_only_on_frames_within_the_receptive_field(floor_frames):
    net = _net(channels=[8, 16, 24], bottleneck_blocks=2, noise_floor_frames=floor_frames)
    assert net.stem[0].in_channels == (4 if floor_frames else 3)
    _scramble_heads(net, scale=0.5)
    hop = net.config.hop_length
    x = torch.randn(1, 200 * hop) * 0.1
    far = x.clone()
    far[:, 150 * hop :] += torch.randn(1, 50 * hop) * 0.1  # change the last quarter only
    with torch.no_grad():
        a, b = net(x), net(far)
    reach = net.receptive_frames() + net.config.n_fft // hop
    untouched = (150 - reach - 1) * hop
    assert untouched > 50 * hop
    torch.testing.assert_close(a[:, :untouched], b[:, :untouched], atol=1e-6, rtol=0)
    assert float((a[:, 150 * hop :] - b[:, 150 * hop :]).abs().max()) > 1e-3


def test_noise_floor_is_a_running_minimum_that_ignores_short_bursts():
    net = _net(channels=[8, 16], bottleneck_blocks=1, noise_floor_frames=8)
    mag = torch.ones(1, 3, 100)
    mag[:, :, 20:23] = 10.0  # a 3-frame burst: gone from the floor
    mag[:, :, 60:] = 5.0  # a lasting rise: in the floor once the window has passed it
    floor = net._noise_floor(mag)
    assert floor.shape == mag.shape
    torch.testing.assert_close(floor[:, :, :58], torch.ones(1, 3, 58))
    torch.testing.assert_close(floor[:, :, 70:], torch.full((1, 3, 30), 5.0))
    assert torch.all(floor[:, :, 58:70] >= 1.0) and torch.all(floor[:, :, 58:70] <= 5.0)
    # The reach over time grows by the window and the smoothing.
    plain = _net(channels=[8, 16], bottleneck_blocks=1)
    assert net.receptive_frames() == plain.receptive_frames() + 8 + 2
    assert net.features(torch.randn(1, 513, 40, dtype=torch.complex64)).shape[1] == 4
    with pytest.raises(ParameterError, match="noise_floor_frames=-1"):
        _net(noise_floor_frames=-1)


def test_config_errors_echo_the_value():
    from torchmusic.models.denoise import DenoiserConfig

    with pytest.raises(ParameterError, match="hop_length=300 must divide n_fft=1024"):
        DenoiserConfig(hop_length=300)
    with pytest.raises(ParameterError, match=r"mask_max=0\.5"):
        DenoiserConfig(mask_max=0.5)
    with pytest.raises(ParameterError, match="df_bins=9999 exceeds"):
        DenoiserConfig(df_bins=9999)
    with pytest.raises(ParameterError, match="preset 'tpu'"):
        DenoiserConfig.preset("tpu")
    with pytest.raises(ParameterError, match=r"unknown denoiser setting\(s\) \['width'\]"):
        DenoiserConfig.preset("cpu", width=3)


def test_model_file_round_trip_gives_identical_output(tmp_path):
    from torchmusic.models.denoise import (
        DenoiserSpec,
        load_denoiser_file,
        read_denoiser_spec,
        save_denoiser,
    )

    net = _net(channels=[8, 16], bottleneck_blocks=1)
    _scramble_heads(net, scale=0.3)
    path = save_denoiser(
        tmp_path / "d.safetensors",
        net,
        DenoiserSpec("unet", {}, 22050, metrics={"val_si_sdri": 7.5}),
    )
    loaded, spec = load_denoiser_file(path)
    assert spec.sample_rate == 22050 and spec.metrics == {"val_si_sdri": 7.5}
    assert spec.model_config["channels"] == [8, 16] and loaded.config == net.config
    x = torch.randn(2, 5000)
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))
    assert read_denoiser_spec(path).architecture == "unet"
    with pytest.raises(
        ParameterError, match="sample_rate=44100 does not match the network's sr=22050"
    ):
        save_denoiser(tmp_path / "e.safetensors", net, DenoiserSpec("unet", {}, 44100))


def test_other_model_files_are_refused_by_what_they_are(tmp_path):
    from torchmusic.models.denoise import load_denoiser_file
    from torchmusic.pretrained import resolve_model

    with pytest.raises(DataError, match="classifier model file"):
        load_denoiser_file(resolve_model("drums"))
    with pytest.raises(DataError, match="music-denoiserr"):
        load_denoiser_file("music-denoiserr")


# -- losses ---------------------------------------------------------------------------------


def test_neg_si_sdr_on_hand_checked_cases():
    from torchmusic.models.denoise import neg_si_sdr

    t = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    noise = torch.tensor([[1.0, 1.0, -1.0, -1.0]])  # zero-mean and orthogonal to t
    # |s|^2 / |e - s|^2 = 4 / (4 * 0.01): 20 dB; the value is its negative.
    assert float(neg_si_sdr(t, t + 0.1 * noise)) == pytest.approx(-20.0, abs=1e-4)
    # Scale-invariant: a gain and an offset on the estimate change nothing.
    assert float(neg_si_sdr(t, 3 * (t + 0.1 * noise) + 5)) == pytest.approx(-20.0, abs=1e-4)
    per_item = neg_si_sdr(
        torch.cat([t, t]), torch.cat([t + 0.1 * noise, t + noise]), reduction="none"
    )
    torch.testing.assert_close(per_item, torch.tensor([-20.0, 0.0]), atol=1e-4, rtol=0)
    with pytest.raises(ParameterError, match=r"target \(1, 4\) and estimate \(1, 3\)"):
        neg_si_sdr(t, t[:, :3])


def test_compressed_stft_loss_on_hand_checked_cases():
    from torchmusic.models.denoise import CompressedSTFTLoss, DenoiseLoss

    torch.manual_seed(0)
    y = torch.randn(2, 8192)
    loss = CompressedSTFTLoss(resolutions=[(512, 128), (256, 64)], power=0.3)
    assert float(loss(y, y)) == 0.0
    # An estimate a * y has |E|^0.3 = a^0.3 |Y|^0.3 in every bin, so the loss is
    # (a^0.3 - 1)^2 * mean(|Y|^0.6): the ratio of two gains is known by hand.
    ratio = float(loss(y, 2 * y)) / float(loss(y, 0.5 * y))
    assert ratio == pytest.approx((2**0.3 - 1) ** 2 / (1 - 0.5**0.3) ** 2, rel=1e-4)
    # ... and a silent estimate costs mean((|Y|^0.3 - floor)^2), floor = (1e-12)^0.15
    # (the power floor that keeps gradients finite at silent bins).
    floor = 1e-12**0.15
    by_hand = sum(float((loss.compressed(y, i) - floor).square().mean()) for i in range(2)) / 2
    assert float(loss(y, torch.zeros_like(y))) == pytest.approx(by_hand, rel=1e-5)
    mean_p = sum(float(loss.compressed(y, i).square().mean()) for i in range(2)) / 2
    assert float(loss(y, 2 * y)) == pytest.approx((2**0.3 - 1) ** 2 * mean_p, rel=1e-3)
    total = DenoiseLoss(lambda_sisdr=0.5, lambda_stft=2.0)
    parts = total(y, 2 * y)
    assert float(parts["neg_si_sdr"]) < -60  # a scaled copy: a perfect SI-SDR
    assert float(parts["total"]) == pytest.approx(
        0.5 * float(parts["neg_si_sdr"]) + 2.0 * float(parts["stft"]), rel=1e-6
    )
    with pytest.raises(ParameterError, match="not both 0"):
        DenoiseLoss(0, 0)
    assert math.isfinite(float(loss(torch.zeros(1, 4096), torch.zeros(1, 4096))))
