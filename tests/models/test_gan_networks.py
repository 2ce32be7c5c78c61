"""WaveGAN and SpecGAN networks: shapes for two sizes each, phase shuffle, conditioning, configs.

Everything is built tiny (``dim`` 2-4, 2-3 layers) so that the file runs in a few
seconds on one core; the default paper-sized configs are only constructed, never run.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.gan import (
    DISCRIMINATORS,
    GAN_REGISTRY,
    PhaseShuffle,
    SpecGANConfig,
    SpecGANDiscriminator,
    SpecGANGenerator,
    WaveGANConfig,
    WaveGANDiscriminator,
    WaveGANGenerator,
    build_gan,
    from_db,
    to_db,
)

LATENT = 8
N_CLASSES = 3


def rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def latent(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, LATENT, generator=rng(seed))


def wavegan(length: int, n_layers: int, n_classes: int) -> WaveGANConfig:
    return WaveGANConfig(
        latent_dim=LATENT, dim=2, length=length, n_layers=n_layers, n_classes=n_classes
    )


def specgan(n_mels: int, n_frames: int, n_classes: int) -> SpecGANConfig:
    return SpecGANConfig(
        latent_dim=LATENT, dim=2, n_mels=n_mels, n_frames=n_frames, n_layers=3, n_classes=n_classes
    )


# Two lengths / image sizes each: different depths and a non-square image.
WAVE_SIZES = [(1024, 3), (4096, 4)]
SPEC_SIZES = [(32, 16), (64, 64)]


def labels_for(n_classes: int, batch: int) -> torch.Tensor | None:
    return torch.arange(batch) % n_classes if n_classes else None


# -- shapes -----------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [0, N_CLASSES])
@pytest.mark.parametrize(("length", "n_layers"), WAVE_SIZES)
def test_wavegan_shapes(length: int, n_layers: int, n_classes: int) -> None:
    cfg = wavegan(length, n_layers, n_classes)
    g, d = WaveGANGenerator(cfg), WaveGANDiscriminator(cfg)
    labels = labels_for(n_classes, 3)
    audio = g(latent(3), labels)
    assert audio.shape == (3, length)
    assert audio.abs().max() <= 1.0  # tanh output
    assert d(audio, labels).shape == (3,)
    assert d(audio.unsqueeze(1), labels).shape == (3,)  # (batch, 1, length) too
    # Each layer multiplies by the stride: the dense layer makes length / 4**n_layers.
    assert g.dense.out_features == cfg.dim * 2 ** (n_layers - 1) * length // 4**n_layers


@pytest.mark.parametrize("n_classes", [0, N_CLASSES])
@pytest.mark.parametrize(("n_mels", "n_frames"), SPEC_SIZES)
def test_specgan_shapes(n_mels: int, n_frames: int, n_classes: int) -> None:
    cfg = specgan(n_mels, n_frames, n_classes)
    g, d = SpecGANGenerator(cfg), SpecGANDiscriminator(cfg)
    labels = labels_for(n_classes, 2)
    images = g(latent(2), labels)
    assert images.shape == (2, n_mels, n_frames)
    assert images.abs().max() <= 1.0
    assert d(images, labels).shape == (2,)
    assert d(images.unsqueeze(1), labels).shape == (2,)


def test_paper_sizes_build() -> None:
    # The paper's WaveGAN: 16 * dim channels at length 16 after the dense layer.
    g = WaveGANGenerator()
    assert g.dense.out_features == 16 * 64 * 16
    assert WaveGANConfig(length=65536, n_layers=6).base_length == 16
    assert SpecGANConfig(n_frames=128).base_size == (4, 4)


@pytest.mark.parametrize("arch", ["wavegan", "specgan"])
def test_build_gan_pairs_generator_and_discriminator(arch: str) -> None:
    sizes = {"wavegan": {"length": 1024}, "specgan": {"n_mels": 32, "n_frames": 16}}
    g, d = build_gan(arch, latent_dim=LATENT, dim=2, n_layers=3, n_classes=N_CLASSES, **sizes[arch])
    assert type(g) is GAN_REGISTRY.get(arch)[1]
    assert type(d) is DISCRIMINATORS[arch]
    assert g.config is d.config
    labels = torch.tensor([0, 2])
    assert d(g(latent(2), labels), labels).shape == (2,)


def test_unknown_arch_and_setting_are_refused() -> None:
    with pytest.raises(ParameterError, match=r"'wavgan'.*did you mean 'wavegan'"):
        build_gan("wavgan")
    with pytest.raises(ParameterError, match="'n_mels'"):
        build_gan("wavegan", n_mels=64)


def test_gradients_reach_every_parameter() -> None:
    cfg = wavegan(1024, 3, N_CLASSES)
    g, d = WaveGANGenerator(cfg), WaveGANDiscriminator(cfg)
    labels = torch.tensor([0, 1])
    d(g(latent(2), labels), labels).sum().backward()
    for net in (g, d):
        for name, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


# -- phase shuffle ----------------------------------------------------------------------
def test_phase_shuffle_keeps_shape_and_shifts_with_reflect_padding() -> None:
    x = torch.arange(2 * 3 * 10, dtype=torch.float32).view(2, 3, 10)
    shuffle = PhaseShuffle(2).train()
    torch.manual_seed(0)
    seen = set()
    for _ in range(40):
        y = shuffle(x)
        assert y.shape == x.shape
        for b in range(2):
            # Every channel of an example moves by the same k in [-2, 2]; interior
            # samples are x[t - k], edges are reflections.
            matches = [
                k for k in range(-2, 3) if torch.equal(y[b, :, 2:-2], x[b, :, 2 - k : 8 - k])
            ]
            assert len(matches) == 1
            k = matches[0]
            seen.add(k)
            if k > 0:  # moved right: out[0] = x[k] reflected
                assert torch.equal(y[b, :, 0], x[b, :, k])
    assert seen == {-2, -1, 0, 1, 2}


def test_phase_shuffle_is_the_identity_with_n_0_or_in_eval_mode() -> None:
    x = torch.randn(4, 3, 16, generator=rng())
    assert torch.equal(PhaseShuffle(0).train()(x), x)
    assert torch.equal(PhaseShuffle(3).eval()(x), x)
    # ...and a discriminator in eval mode is deterministic; in train mode it shuffles.
    d = WaveGANDiscriminator(wavegan(1024, 3, 0))
    audio = torch.randn(4, 1024, generator=rng(1))
    assert torch.equal(d.eval()(audio), d(audio))
    torch.manual_seed(0)
    outs = [d.train()(audio) for _ in range(4)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_phase_shuffle_wider_than_the_signal_is_refused() -> None:
    with pytest.raises(ParameterError, match="n=4"):
        PhaseShuffle(4).train()(torch.zeros(1, 1, 4))
    with pytest.raises(ParameterError, match="n=-1"):
        PhaseShuffle(-1)


# -- conditioning -----------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["wavegan", "specgan"])
def test_conditional_generator_output_changes_with_the_label(arch: str) -> None:
    cfg = wavegan(1024, 3, N_CLASSES) if arch == "wavegan" else specgan(32, 16, N_CLASSES)
    g = WaveGANGenerator(cfg) if arch == "wavegan" else SpecGANGenerator(cfg)
    z = latent(1).expand(N_CLASSES, LATENT)  # one latent, every label
    out = g(z, torch.arange(N_CLASSES))
    for a in range(N_CLASSES):
        for b in range(a + 1, N_CLASSES):
            assert (out[a] - out[b]).abs().max() > 1e-4
    # Same latent and label: same output (the label is the only difference above).
    assert torch.allclose(g(z[:1], torch.tensor([1])), out[1:2], atol=1e-6)


def test_projection_discriminator_adds_the_class_inner_product() -> None:
    cfg = specgan(32, 16, N_CLASSES)
    d = SpecGANDiscriminator(cfg)
    x = torch.randn(1, 32, 16, generator=rng())
    with torch.no_grad():
        features = d.downsample(x.unsqueeze(1)).flatten(1)[0]
        unconditional = d.head.linear(features).item()
        for y in range(N_CLASSES):
            expected = unconditional + float(d.head.embed.weight[y] @ features)
            assert d(x, torch.tensor([y])).item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_labels_are_checked() -> None:
    cond = WaveGANGenerator(wavegan(1024, 3, N_CLASSES))
    uncond = WaveGANGenerator(wavegan(1024, 3, 0))
    z = latent(2)
    with pytest.raises(ParameterError, match="needs labels"):
        cond(z)
    with pytest.raises(ParameterError, match="unconditional"):
        uncond(z, torch.tensor([0, 1]))
    with pytest.raises(ParameterError, match="label 3 is outside"):
        cond(z, torch.tensor([0, 3]))
    with pytest.raises(ParameterError, match=r"shape \(2,\)"):
        cond(z, torch.tensor([0]))
    with pytest.raises(ParameterError, match=r"\(batch, 8\)"):
        cond(torch.randn(2, 5), torch.tensor([0, 1]))
    d = WaveGANDiscriminator(wavegan(1024, 3, 0))
    with pytest.raises(
        ParameterError, match=r"\(batch, 1024\) or \(batch, 1, 1024\), got \(2, 1000\)"
    ):
        d(torch.randn(2, 1000))


# -- configs ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "settings", "message"),
    [
        (WaveGANConfig, {"length": 22050}, "length=22050 .* 21504 or 22528"),
        (WaveGANConfig, {"length": 1000, "n_layers": 3}, "length=1000 .* 960 or 1024"),
        (WaveGANConfig, {"dim": 0}, "dim=0"),
        (WaveGANConfig, {"latent_dim": 2.5}, "latent_dim=2.5"),
        (WaveGANConfig, {"stride": 1}, "stride=1"),
        (WaveGANConfig, {"kernel_size": 3}, "kernel_size=3 must be >= stride=4"),
        (WaveGANConfig, {"n_classes": -2}, "n_classes=-2"),
        (WaveGANConfig, {"n_classes": 1}, "n_classes=1"),
        (WaveGANConfig, {"phase_shuffle": -1}, "phase_shuffle=-1"),
        (WaveGANConfig, {"length": 1024, "n_layers": 5, "phase_shuffle": 4}, "phase_shuffle=4"),
        (WaveGANConfig, {"sample_rate": 0}, "sample_rate=0"),
        (WaveGANConfig, {"leaky_relu_slope": 1.5}, "leaky_relu_slope=1.5"),
        (SpecGANConfig, {"n_mels": 80}, "n_mels=80 .* 64 or 96"),
        (SpecGANConfig, {"n_frames": 44}, "n_frames=44 .* 32 or 64"),
        (SpecGANConfig, {"n_frames": 16}, "n_frames=16 .* 32"),
        (SpecGANConfig, {"db_range": (40.0, -60.0)}, r"db_range=\(40.0, -60.0\)"),
        (SpecGANConfig, {"db_range": "loud"}, "db_range='loud'"),
        (SpecGANConfig, {"hop_length": 0}, "hop_length=0"),
        (WaveGANConfig, {"generator_norm": "layer"}, "generator_norm='layer'.*'batch'"),
        (SpecGANConfig, {"discriminator_norm": "batch"}, "discriminator_norm='batch'.*'spectral'"),
    ],
)
def test_bad_configs_name_the_value(cls: type, settings: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        cls(**settings)


def test_configs_are_keyword_only_and_round_trip_through_dicts() -> None:
    with pytest.raises(TypeError):
        WaveGANConfig(100)  # type: ignore[misc]
    cfg = SpecGANConfig(n_classes=8, db_range=[-70, 30])  # a JSON list comes back a tuple
    assert cfg.db_range == (-70.0, 30.0)
    assert SpecGANConfig(**dataclasses.asdict(cfg)) == cfg
    assert GAN_REGISTRY.make_config("wavegan", {"n_classes": 8}).n_classes == 8


# -- dB mapping -------------------------------------------------------------------------
def test_db_mapping_round_trips_and_clips() -> None:
    db = torch.tensor([-60.0, -35.0, -10.0, 15.0, 40.0])
    x = from_db(db)
    assert torch.allclose(x, torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    assert torch.allclose(to_db(x), db)
    assert from_db(torch.tensor([-100.0, 90.0])).tolist() == [-1.0, 1.0]  # clipped
    # A config's own window.
    assert to_db(torch.tensor([-1.0, 1.0]), db_range=(-80.0, 0.0)).tolist() == [-80.0, 0.0]


# -- normalisation options ------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["wavegan", "specgan"])
def test_batch_norm_generator_and_spectral_norm_discriminator(arch: str) -> None:
    small = wavegan(1024, 3, N_CLASSES) if arch == "wavegan" else specgan(32, 16, N_CLASSES)
    cfg = dataclasses.replace(small, generator_norm="batch", discriminator_norm="spectral")
    g, d = build_gan(arch, **dataclasses.asdict(cfg))
    plain_g, plain_d = build_gan(arch, **dataclasses.asdict(small))
    bn_type = torch.nn.BatchNorm1d if arch == "wavegan" else torch.nn.BatchNorm2d
    # one batch norm after the dense layer and after each hidden transposed conv
    assert sum(isinstance(m, bn_type) for m in g.modules()) == cfg.n_layers
    assert not any(isinstance(m, bn_type) for m in plain_g.modules())
    normalised = [n for n, _ in d.named_modules() if n.endswith("parametrizations.weight")]
    assert len(normalised) == cfg.n_layers + 1  # every conv and the linear head
    assert not [n for n, _ in plain_d.named_modules() if "parametrizations" in n]
    y = labels_for(N_CLASSES, 4)
    x = g(latent(4), y)
    assert x.shape == plain_g(latent(4), y).shape
    # spectral norm bounds each layer's operator norm by ~1 after a few power iterations
    for _ in range(20):
        d(x.detach(), y)
    conv = d.downsample[0]
    w = conv.weight.flatten(1)
    assert float(torch.linalg.matrix_norm(w, ord=2)) == pytest.approx(1.0, rel=0.05)
    # a batch of one generates in eval mode (running statistics), not in training mode
    g.eval()
    assert torch.isfinite(g(latent(1), labels_for(N_CLASSES, 1))).all()
