"""Vocoder losses on hand-checkable cases, and a tiny Vocos overfit on real music."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.features import FeatureConfig
from torchmusic.features.modules import LogMelSpectrogram
from torchmusic.models.vocoder import (
    MelLoss,
    MultiResolutionSTFTLoss,
    Vocos,
    VocosConfig,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)

LN2 = math.log(2.0)


def noise(*shape: int, seed: int = 0, scale: float = 0.5) -> torch.Tensor:
    """Loud white noise: energy in every mel band, so no bin sits at the amin floor."""
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# -- adversarial --------------------------------------------------------------------------
def test_lsgan_discriminator_loss_by_hand() -> None:
    ones, zeros = [torch.ones(2, 7), torch.ones(2, 3)], [torch.zeros(2, 7), torch.zeros(2, 3)]
    assert lsgan_discriminator_loss(ones, zeros).item() == 0.0
    # Swapped: each sub-discriminator costs (1 - 0)^2 + 1^2 = 2; two of them.
    assert lsgan_discriminator_loss(zeros, ones).item() == 4.0
    # real 0.5 -> 0.25, fake -1 -> 1; summed (not averaged) over sub-discriminators.
    value = lsgan_discriminator_loss([torch.full((4,), 0.5)] * 3, [torch.full((2,), -1.0)] * 3)
    assert value.item() == pytest.approx(3 * 1.25)


def test_lsgan_generator_loss_by_hand() -> None:
    assert lsgan_generator_loss([torch.ones(5), torch.ones(2, 2)]).item() == 0.0
    assert lsgan_generator_loss([torch.zeros(5), torch.zeros(2, 2)]).item() == 2.0
    assert lsgan_generator_loss([torch.tensor([0.0, 2.0, 3.0])]).item() == 2.0  # (1 + 1 + 4) / 3


def test_hinge_losses_by_hand() -> None:
    real = [torch.tensor([0.5, 2.0]), torch.tensor([-1.0])]
    fake = [torch.tensor([-2.0, 0.0]), torch.tensor([3.0])]
    # sub 1: mean(relu(0.5), relu(-1)) = 0.25, mean(relu(-1), relu(1)) = 0.5
    # sub 2: relu(2) = 2, relu(4) = 4
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.25 + 0.5 + 2 + 4)
    assert hinge_generator_loss(fake).item() == pytest.approx(1.0 - 3.0)


def test_adversarial_losses_take_one_tensor_as_a_list_of_one() -> None:
    # Single-critic GANs (WaveGAN) pass a (batch,) tensor, not a list; a bare tensor must
    # not be iterated as a list of its rows (that would sum instead of average).
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.0])
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.25 + 0.5)
    assert hinge_generator_loss(fake).item() == pytest.approx(1.0)
    assert lsgan_discriminator_loss(real, fake).item() == pytest.approx(0.625 + 2.0)
    assert lsgan_generator_loss(fake).item() == pytest.approx(5.0)


def test_adversarial_losses_reject_mismatched_lists() -> None:
    with pytest.raises(ParameterError, match=r"2 real logit tensors but 1 fake"):
        lsgan_discriminator_loss([torch.ones(1)] * 2, [torch.ones(1)])
    with pytest.raises(ParameterError, match=r"no logit tensors"):
        hinge_generator_loss([])


def test_feature_matching_by_hand() -> None:
    real = [[torch.randn(2, 4, 5), torch.randn(2, 3)], [torch.randn(2, 1, 6, 2)]]
    assert feature_matching_loss(real, real).item() == 0.0
    fake = [[(r + 0.5).requires_grad_() for r in maps] for maps in real]
    value = feature_matching_loss(real, fake)
    assert value.item() == pytest.approx(0.5 * 3)
    value.backward()
    # d/df mean|r - f| = sign(f - r) / numel for every map.
    assert all(torch.allclose(f.grad, torch.full_like(f, 1 / f.numel())) for m in fake for f in m)


def test_feature_matching_detaches_real() -> None:
    real = [[torch.randn(3, requires_grad=True)]]
    fake = [[torch.randn(3, requires_grad=True)]]
    feature_matching_loss(real, fake).backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None


def test_feature_matching_rejects_shape_mismatch() -> None:
    with pytest.raises(ParameterError, match=r"shape \(2, 3\) vs fake one of \(2, 4\)"):
        feature_matching_loss([[torch.zeros(2, 3)]], [[torch.zeros(2, 4)]])


# -- mel ----------------------------------------------------------------------------------
def test_mel_loss_of_signal_with_itself_is_zero() -> None:
    y = noise(2, 8192)
    assert MelLoss()(y, y).item() == 0.0


def test_mel_loss_of_half_amplitude_is_ln2() -> None:
    # -6.02 dB in every (unfloored) bin = 20 log10(2) dB * ln(10) / 20 = ln 2.
    y = noise(2, 8192)
    loss = MelLoss()
    assert loss(0.5 * y, y).item() == pytest.approx(LN2, rel=1e-5)
    assert loss(y, 0.5 * y).item() == pytest.approx(LN2, rel=1e-5)
    # (batch, 1, samples) and (samples,) too.
    assert loss(0.5 * y[:, None], y[:, None]).item() == pytest.approx(LN2, rel=1e-5)
    assert loss(0.5 * y[0], y[0]).item() == pytest.approx(LN2, rel=1e-5)


@pytest.mark.parametrize(
    "config",
    [
        FeatureConfig(n_mels=40, n_fft=512, hop_length=128, sr=16000),
        # Magnitude (power 1) mels: dB are then 10 log10 |X|, and the scale adapts.
        FeatureConfig(power=1.0, n_mels=64),
    ],
)
def test_mel_loss_units_with_other_feature_configs(config: FeatureConfig) -> None:
    y = noise(1, 8000)
    assert MelLoss(config)(0.5 * y, y).item() == pytest.approx(LN2, rel=1e-5)


def test_mel_loss_is_natural_log_of_amplitude_with_floor() -> None:
    # Silence is floored at amplitude 1e-5 (power 1e-10), as in HiFi-GAN, not at -80 dB top_db.
    loss = MelLoss()
    silence = torch.zeros(1, 4096)
    torch.testing.assert_close(
        loss.log_mel(silence), torch.full_like(loss.log_mel(silence), math.log(1e-5))
    )
    y = noise(1, 4096)
    expected = LogMelSpectrogram(top_db=None)(y) * math.log(10) / 20
    torch.testing.assert_close(loss.log_mel(y), expected)


def test_mel_loss_is_differentiable_wrt_generated() -> None:
    target = noise(2, 4096, seed=1)
    generated = noise(2, 4096, seed=2).requires_grad_()
    MelLoss()(target, generated).backward()
    assert generated.grad is not None and torch.isfinite(generated.grad).all()
    assert generated.grad.abs().sum() > 0
    # A small step against the gradient lowers the loss.
    with torch.no_grad():
        stepped = generated - 1e-3 * generated.grad / generated.grad.abs().max()
        assert MelLoss()(target, stepped) < MelLoss()(target, generated)


def test_mel_loss_errors() -> None:
    with pytest.raises(ParameterError, match=r"\(2, 90\) vs generated of \(2, 100\)"):
        MelLoss()(torch.zeros(2, 90), torch.zeros(2, 100))
    with pytest.raises(ParameterError, match=r"FeatureConfig"):
        MelLoss({"n_mels": 40})  # type: ignore[arg-type]


# -- multi-resolution STFT ----------------------------------------------------------------
def test_mr_stft_of_identical_is_zero() -> None:
    y = noise(2, 8192)
    sc, mag = MultiResolutionSTFTLoss()(y, y)
    assert sc.item() == 0.0 and mag.item() == 0.0


def test_mr_stft_of_double_amplitude_by_hand() -> None:
    # target 2Y, generated Y: sc = ||2|Y| - |Y||| / ||2|Y||| = 1/2 and the log
    # magnitudes differ by ln 2 everywhere (loud noise: no bin at the 1e-7 clamp).
    y = noise(2, 8192)
    sc, mag = MultiResolutionSTFTLoss()(2 * y, y)
    assert sc.item() == pytest.approx(0.5, rel=1e-5)
    assert mag.item() == pytest.approx(LN2, rel=1e-5)
    # Target Y, generated 2Y: the denominator is ||Y||, so sc = 1.
    sc, _ = MultiResolutionSTFTLoss()(y, 2 * y)
    assert sc.item() == pytest.approx(1.0, rel=1e-5)


def test_mr_stft_averages_over_resolutions() -> None:
    y, g = noise(1, 4096, seed=3), noise(1, 4096, seed=4)
    resolutions = ((256, 64, 256), (512, 128, 400))
    both = MultiResolutionSTFTLoss(resolutions)(y, g)
    singles = [MultiResolutionSTFTLoss((r,))(y, g) for r in resolutions]
    for k in range(2):
        assert both[k].item() == pytest.approx((singles[0][k].item() + singles[1][k].item()) / 2)


def test_mr_stft_gradients_are_finite_even_on_silence() -> None:
    generated = torch.zeros(1, 4096, requires_grad=True)
    sc, mag = MultiResolutionSTFTLoss()(noise(1, 4096), generated)
    (sc + mag).backward()
    assert torch.isfinite(generated.grad).all()


def test_mr_stft_errors() -> None:
    with pytest.raises(ParameterError, match=r"\(512, 128, 1024\)"):
        MultiResolutionSTFTLoss(((512, 128, 1024),))
    with pytest.raises(ParameterError, match=r"resolutions must not be empty"):
        MultiResolutionSTFTLoss(())


# -- overfit ------------------------------------------------------------------------------
def _real_clip(shared_data: Path, n_samples: int) -> torch.Tensor:
    soundfile = pytest.importorskip("soundfile")
    path = shared_data / "recordings" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    if not path.is_file():
        pytest.skip(f"{path} not found in shared/data")  # a failure under CI (conftest)
    sr = soundfile.info(str(path)).samplerate
    # 10 s in: past the intro, the music is dense.
    start = 10 * sr
    need = n_samples if sr == 22050 else math.ceil(n_samples * sr / 22050) + 64
    y, sr = soundfile.read(str(path), start=start, frames=need, dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if sr != 22050:
        import soxr

        y = soxr.resample(y, sr, 22050)
    return torch.from_numpy(y[:n_samples].copy())[None]


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core box, 2 threads contend and run ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("one_thread")
def test_tiny_vocos_overfits_one_clip(shared_data: Path) -> None:
    torch.manual_seed(0)
    config = FeatureConfig()  # 22050 Hz, hop 512, 128 mels: the generator's input
    y = _real_clip(shared_data, 43 * config.hop_length)  # ~1 s, 44 frames
    mel = LogMelSpectrogram(n_mels=config.n_mels, hop_length=config.hop_length)(y)
    model = Vocos(VocosConfig(dim=32, intermediate_dim=64, num_layers=2))
    mel_loss, stft_loss = MelLoss(config), MultiResolutionSTFTLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        # The output runs one hop past the clip (frames * hop); compare the clip's span.
        out = model(mel)[:, : y.shape[-1]]
        sc, mag = stft_loss(y, out)
        return mel_loss(y, out), sc + mag

    with torch.no_grad():
        first = losses()[0].item()
    for _ in range(150):
        mel_l1, stft = losses()
        optimizer.zero_grad()
        (mel_l1 + stft).backward()
        optimizer.step()
    with torch.no_grad():
        last = losses()[0].item()
    assert math.isfinite(last)
    assert last < 0.5 * first, (first, last)
