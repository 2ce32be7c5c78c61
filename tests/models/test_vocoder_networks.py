"""Vocoder generators and discriminators: shapes, validation, gradients, a tiny overfit.

Networks are built tiny (a few channels) so that the whole file runs in seconds on
one core; the sizes exercised are the hop lengths 256 and 512 the trainers use.
"""

from __future__ import annotations

import math

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.vocoder import (
    VOCODER_REGISTRY,
    HiFiGAN,
    HiFiGANConfig,
    MelGAN,
    MelGANConfig,
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
    MultiScaleDiscriminator,
    Vocos,
    VocosConfig,
    build_vocoder,
    remove_weight_norm,
)

RATES = {256: (8, 8, 2, 2), 512: (8, 8, 4, 2)}


def tiny(name: str, hop: int, n_mels: int = 128) -> torch.nn.Module:
    """A few-channel generator for ``hop``."""
    if name == "hifigan":
        rates = RATES[hop]
        return HiFiGAN(
            HiFiGANConfig(
                n_mels=n_mels,
                hop_length=hop,
                upsample_rates=rates,
                upsample_kernel_sizes=tuple(2 * r for r in rates),
                upsample_initial_channel=32,
                resblock_kernel_sizes=(3, 5),
                resblock_dilations=((1, 3), (1, 3)),
            )
        )
    if name == "melgan":
        return MelGAN(
            MelGANConfig(n_mels=n_mels, hop_length=hop, upsample_rates=RATES[hop], channels=32)
        )
    return Vocos(
        VocosConfig(
            n_mels=n_mels, hop_length=hop, dim=16, intermediate_dim=32, num_layers=2, n_fft=4 * hop
        )
    )


def fake_mel(*shape: int) -> torch.Tensor:
    """dB log-mel-like values in [-80, 0]."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0)) * -80.0


GENERATORS = ["hifigan", "melgan", "vocos"]


# -- generators ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize(("hop", "n_mels"), [(256, 128), (512, 128), (256, 80)])
def test_generator_output_shape(name: str, hop: int, n_mels: int) -> None:
    model = tiny(name, hop, n_mels)
    y = model(fake_mel(2, n_mels, 5))
    assert y.shape == (2, 5 * hop)
    assert torch.isfinite(y).all()
    if name != "vocos":  # tanh output
        assert y.abs().max() <= 1.0


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_unbatched_input_matches_batched(name: str) -> None:
    model = tiny(name, 256).eval()
    mel = fake_mel(128, 4)
    y = model(mel)
    assert y.shape == (4 * 256,)
    torch.testing.assert_close(y, model(mel[None])[0])


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_batch_items_are_independent(name: str) -> None:
    # No cross-talk between batch items (e.g. a norm over the batch).
    model = tiny(name, 256).eval()
    mel = fake_mel(2, 128, 6)
    torch.testing.assert_close(model(mel)[1], model(mel[1:])[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_gradients_reach_every_parameter(name: str) -> None:
    model = tiny(name, 256)
    model(fake_mel(1, 128, 3)).square().sum().backward()
    missing = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not missing


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.zeros(2, 64, 5), r"64 mel bands.*n_mels=128"),
        (torch.zeros(2, 1, 128, 5), r"ndim=4"),
        (torch.zeros(128), r"ndim=1"),
        (torch.zeros(2, 128, 5, dtype=torch.long), r"floating-point.*int64"),
        (torch.zeros(2, 128, 0), r"no frames"),
    ],
)
def test_generator_rejects_bad_input(name: str, bad: torch.Tensor, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        tiny(name, 256)(bad)


@pytest.mark.parametrize("config_cls", [HiFiGANConfig, MelGANConfig])
def test_rates_must_multiply_to_hop(config_cls: type) -> None:
    kwargs = {"upsample_kernel_sizes": (16, 16, 4, 4)} if config_cls is HiFiGANConfig else {}
    with pytest.raises(
        ParameterError,
        match=r"upsample_rates \(8, 8, 2, 2\) multiply to 256 but hop_length is 512",
    ):
        config_cls(hop_length=512, upsample_rates=(8, 8, 2, 2), **kwargs)


def test_hifigan_kernel_must_cover_rate() -> None:
    with pytest.raises(ParameterError, match=r"kernel 4 must be an int >= its rate 8"):
        HiFiGANConfig(
            hop_length=256, upsample_rates=(8, 8, 2, 2), upsample_kernel_sizes=(16, 4, 4, 4)
        )


def test_odd_rates_still_give_exact_length() -> None:
    # Odd rate: the transposed conv needs output_padding to hit L * rate exactly.
    config = HiFiGANConfig(
        n_mels=16,
        hop_length=15,
        upsample_rates=(5, 3),
        upsample_kernel_sizes=(10, 6),
        upsample_initial_channel=8,
        resblock_kernel_sizes=(3,),
        resblock_dilations=((1,),),
    )
    assert HiFiGAN(config)(fake_mel(1, 16, 7)).shape == (1, 105)
    assert MelGAN(MelGANConfig(n_mels=16, hop_length=15, upsample_rates=(5, 3), channels=8))(
        fake_mel(1, 16, 7)
    ).shape == (1, 105)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_fft": 512, "hop_length": 512}, r"n_fft=512 must be greater than hop_length=512"),
        ({"n_mels": 0}, r"n_mels=0"),
        ({"input_scale": -1.0}, r"input_scale=-1.0"),
        ({"dim": 0}, r"dim=0"),
    ],
)
def test_vocos_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        VocosConfig(**kwargs)


@pytest.mark.parametrize("n_fft", [640, 768, 1024, 1280])
def test_vocos_short_fft_tail_is_bounded(n_fft: int) -> None:
    # n_fft near 2 * hop: without the repeated last frame the tail divides by ~0.
    model = Vocos(
        VocosConfig(
            n_mels=32, hop_length=512, n_fft=n_fft, dim=8, intermediate_dim=16, num_layers=1
        )
    )
    y = model(fake_mel(1, 32, 4))
    assert y.shape == (1, 2048)
    assert y.abs().max() < 10 * y[:, :1536].abs().max()


def test_input_scale_is_applied() -> None:
    model = tiny("vocos", 256).eval()
    mel = fake_mel(1, 128, 4)
    scaled = Vocos(VocosConfig(**{**vars(model.config), "input_scale": 0.1}))
    scaled.load_state_dict(model.state_dict())
    torch.testing.assert_close(scaled(mel), model(2 * mel))


def test_hifigan_presets_follow_the_paper() -> None:
    v1 = HiFiGANConfig.preset("v1", hop_length=256)
    assert (v1.upsample_initial_channel, v1.upsample_rates, v1.upsample_kernel_sizes) == (
        512,
        (8, 8, 2, 2),
        (16, 16, 4, 4),
    )
    assert HiFiGANConfig.preset("v2").upsample_initial_channel == 128
    v3 = HiFiGANConfig.preset("V3", hop_length=512, n_mels=80)
    assert (v3.upsample_initial_channel, v3.resblock, v3.n_mels) == (256, "2", 80)
    for name in ("v1", "v2", "v3"):
        for hop in (256, 512):
            assert math.prod(HiFiGANConfig.preset(name, hop_length=hop).upsample_rates) == hop
    with pytest.raises(ParameterError, match=r"'v4'"):
        HiFiGANConfig.preset("v4")
    with pytest.raises(ParameterError, match=r"not 300"):
        HiFiGANConfig.preset("v1", hop_length=300)


def test_other_presets_build() -> None:
    assert VocosConfig.preset("mel").dim == 512
    assert VocosConfig.preset("encodec", hop_length=256).n_fft == 1024
    assert MelGANConfig.preset("paper", hop_length=256).channels == 512


def test_hifigan_v3_resblock_type_2_runs() -> None:
    config = HiFiGANConfig(
        n_mels=16,
        hop_length=256,
        upsample_rates=(8, 8, 4),
        upsample_kernel_sizes=(16, 16, 8),
        upsample_initial_channel=16,
        resblock="2",
        resblock_kernel_sizes=(3, 5, 7),
        resblock_dilations=((1, 2), (2, 6), (3, 12)),
    )
    assert HiFiGAN(config)(fake_mel(2, 16, 3)).shape == (2, 768)


@pytest.mark.parametrize("name", ["hifigan", "melgan"])
def test_remove_weight_norm_keeps_output(name: str) -> None:
    model = tiny(name, 256).eval()
    mel = fake_mel(1, 128, 4)
    before = model(mel)
    n_params = sum(p.numel() for p in model.parameters())
    model.remove_weight_norm()
    assert not any("parametrizations" in n for n, _ in model.named_parameters())
    assert sum(p.numel() for p in model.parameters()) < n_params  # the g vectors are gone
    torch.testing.assert_close(model(mel), before, rtol=1e-4, atol=1e-6)
    assert remove_weight_norm(model) is model  # idempotent


# -- registry -----------------------------------------------------------------------------
def test_registry_builds_each_vocoder() -> None:
    assert VOCODER_REGISTRY.names() == ["hifigan", "melgan", "vocos"]
    for name, cls in [("hifigan", HiFiGAN), ("melgan", MelGAN), ("vocos", Vocos)]:
        model = build_vocoder(name, n_mels=40)
        assert type(model) is cls and model.config.n_mels == 40
        assert VOCODER_REGISTRY.name_of(model) == name
    model = build_vocoder(
        "vocos", n_mels=20, hop_length=256, dim=8, intermediate_dim=8, num_layers=1
    )
    assert model(fake_mel(1, 20, 3)).shape == (1, 768)


def test_registry_errors() -> None:
    with pytest.raises(ParameterError, match=r"unknown vocoder architecture 'hifigam'.*'hifigan'"):
        build_vocoder("hifigam")
    with pytest.raises(ParameterError, match=r"unknown setting\(s\) \['channels'\]"):
        build_vocoder("vocos", channels=3)


# -- discriminators -----------------------------------------------------------------------
DISCRIMINATORS = {
    "mpd": (lambda: MultiPeriodDiscriminator(channels=(4, 8, 8, 8, 8)), 5),
    "msd": (lambda: MultiScaleDiscriminator(channels=(4, 8, 16, 16)), 3),
    "mrd": (
        lambda: MultiResolutionDiscriminator(
            ((256, 64, 256), (512, 128, 512), (128, 32, 128)), channels=4
        ),
        3,
    ),
}


@pytest.mark.parametrize("kind", DISCRIMINATORS)
def test_discriminator_outputs(kind: str) -> None:
    make, n_sub = DISCRIMINATORS[kind]
    disc = make()
    wav = torch.randn(2, 3000)
    logits, features = disc(wav)
    assert len(logits) == len(features) == n_sub
    for logit, maps in zip(logits, features, strict=True):
        assert logit.ndim == 2 and logit.shape[0] == 2 and logit.shape[1] > 0
        assert len(maps) >= 3
        assert all(m.shape[0] == 2 for m in maps)
        # The last feature map is the logit map itself.
        torch.testing.assert_close(maps[-1].flatten(1), logit)
    # (B, 1, N) gives the same as (B, N); eval: spectral norm's power iteration
    # updates its estimate at every training-mode call.
    disc.eval()
    logits, _ = disc(wav)
    logits3, features3 = disc(wav[:, None])
    for a, b in zip(logits, logits3, strict=True):
        torch.testing.assert_close(a, b)
    assert [len(m) for m in features3] == [len(m) for m in features]


def test_discriminator_sub_shapes_differ_as_designed() -> None:
    wav = torch.randn(1, 4096)
    # MPD: period p folds 4096 samples into ceil(4096 / p) rows of p columns.
    mpd = MultiPeriodDiscriminator((2, 3), channels=(4, 4))
    _, feats = mpd(wav)
    assert feats[0][0].shape[-1] == 2 and feats[1][0].shape[-1] == 3
    # MSD: each scale halves the length.
    msd = MultiScaleDiscriminator(3, channels=(4, 4, 4))
    _, feats = msd(wav)
    assert [f[0].shape[-1] for f in feats] == [4096, 2049, 1025]
    # MRD: frames = 1 + N // hop, bins halved by each strided conv.
    mrd = MultiResolutionDiscriminator(((256, 64, 256),), channels=4, n_strided=2)
    _, feats = mrd(wav)
    assert feats[0][0].shape[-2:] == (129, 65)
    assert feats[0][-1].shape[-2:] == (33, 65)


@pytest.mark.parametrize("kind", DISCRIMINATORS)
def test_discriminator_gradients_flow_to_input(kind: str) -> None:
    disc = DISCRIMINATORS[kind][0]()
    wav = torch.randn(2, 1, 2048, requires_grad=True)
    logits, features = disc(wav)
    (sum(x.square().mean() for x in logits) + sum(f[0].mean() for f in features)).backward()
    assert wav.grad is not None and torch.isfinite(wav.grad).all() and wav.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", DISCRIMINATORS)
def test_discriminator_rejects_bad_shapes(kind: str) -> None:
    disc = DISCRIMINATORS[kind][0]()
    with pytest.raises(ParameterError, match=r"got shape \(2, 2, 100\)"):
        disc(torch.randn(2, 2, 100))
    with pytest.raises(ParameterError, match=r"got shape \(100,\)"):
        disc(torch.randn(100))


def test_discriminator_constructor_errors() -> None:
    with pytest.raises(ParameterError, match=r"period=0"):
        MultiPeriodDiscriminator((2, 0))
    with pytest.raises(ParameterError, match=r"n_scales=0"):
        MultiScaleDiscriminator(0)
    with pytest.raises(ParameterError, match=r"win_length 1024 exceeds n_fft 512"):
        MultiResolutionDiscriminator(((512, 128, 1024),))


def test_default_discriminators_have_paper_sizes() -> None:
    assert len(MultiPeriodDiscriminator().discriminators) == 5
    assert len(MultiScaleDiscriminator().discriminators) == 3
    mrd = MultiResolutionDiscriminator()
    assert [d.n_fft for d in mrd.discriminators] == [1024, 2048, 512]
