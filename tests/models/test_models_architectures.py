"""Classifier networks: shapes for any input size, configs, registry, documented sizes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models import (
    CLASSIFIERS,
    CRNN,
    ShortChunkResNet,
    SimpleCNN,
    architecture_of,
    build_classifier,
    register_classifier,
)
from torchmusic.models.classify import make_config
from torchmusic.models.classify._common import (
    ExampleNorm,
    count_parameters,
    halving_plan,
    root_plan,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The models here are tiny: extra intra-op threads only add synchronisation,
    # which costs seconds per call when the test machine's cores are busy.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# Small widths keep every test fast; the structure is the same as the defaults'.
TINY = {
    "simple_cnn": {"channels": (4, 8), "dense_units": 16},
    "crnn": {"channels": (4, 8, 8), "rnn_hidden": 6},
    "shortchunk": {"width": 2},
}


@pytest.mark.parametrize("arch", sorted(TINY))
@pytest.mark.parametrize("n_mels,n_frames", [(128, 130), (64, 44), (1, 1), (3, 7), (20, 259)])
def test_any_input_size_gives_logits_and_gradients(arch, n_mels, n_frames):
    torch.manual_seed(0)
    model = build_classifier(arch, n_mels=n_mels, n_frames=n_frames, n_classes=5, **TINY[arch])
    x = torch.randn(3, n_mels, n_frames)
    logits = model(x)
    assert logits.shape == (3, 5)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.inference_mode():
        assert torch.equal(model(x), model(x))  # eval mode is deterministic (no dropout)


@pytest.mark.parametrize(
    "arch,n_mels,n_frames,overrides,params",
    [
        # The figures quoted in the classes' docstrings.
        ("simple_cnn", 128, 130, {}, 65_599_108),
        ("simple_cnn", 64, 44, {"n_classes": 8}, 11_325_106),
        ("crnn", 128, 130, {}, 1_032_140),
        ("crnn", 64, 44, {}, 1_032_140),
        ("shortchunk", 128, 230, {}, 12_078_348),
        ("shortchunk", 64, 44, {"width": 32}, 758_604),
        ("shortchunk", 64, 44, {"width": 16}, 190_892),
    ],
)
def test_documented_parameter_counts(arch, n_mels, n_frames, overrides, params):
    overrides = dict(overrides)
    n_classes = overrides.pop("n_classes", 10)
    with torch.device("meta"):  # sizes only: nothing is allocated
        model = build_classifier(
            arch, n_mels=n_mels, n_frames=n_frames, n_classes=n_classes, **overrides
        )
    assert count_parameters(model) == params


def test_simple_cnn_is_the_seed_layout():
    model = build_classifier("simple_cnn", n_mels=128, n_frames=130, n_classes=10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(32, (5, 5)), (64, (5, 5))]
    assert [p.kernel_size for p in pools] == [(2, 2), (2, 2)]
    # The dense input size follows from (n_mels, n_frames): 64 channels x 32 x 32.
    assert linears[0].in_features == 64 * 32 * 32 and linears[0].out_features == 1000
    assert any(isinstance(m, nn.Dropout) for m in model.modules())


def test_shortchunk_downsamples_128_mels_to_one_row():
    model = build_classifier("shortchunk", n_mels=128, n_frames=230, n_classes=3, width=2)
    h = model.blocks(model.input_norm(torch.randn(2, 1, 128, 230)))
    assert h.shape == (2, 8, 1, 2)  # 7 halvings: 128 -> 1, 230 -> 2; width x 4 channels
    assert len(model.blocks) == 7


def test_crnn_pools_frequency_to_one_and_keeps_a_sequence():
    model = build_classifier("crnn", n_mels=128, n_frames=130, n_classes=3, **TINY["crnn"])
    h = model.conv(model.input_norm(torch.randn(2, 1, 128, 130)))
    assert h.shape[2] == 1 and h.shape[3] == 130 // 4  # time halved twice (time_pools=2)


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_crnn_options(rnn, pooling):
    model = build_classifier(
        "crnn",
        n_mels=32,
        n_frames=40,
        n_classes=4,
        rnn=rnn,
        temporal_pooling=pooling,
        **TINY["crnn"],
    )
    assert isinstance(model.rnn, nn.LSTM if rnn == "lstm" else nn.GRU)
    assert model.rnn.bidirectional
    assert model(torch.randn(2, 32, 40)).shape == (2, 4)


def test_plans_never_pool_below_one():
    assert halving_plan(3, 4) == [2, 1, 1, 1]
    assert root_plan(64, 4) == [2, 3, 3, 3]
    for size in range(1, 300, 7):
        for steps in (1, 3, 7):
            n = size
            for p in root_plan(size, steps):
                n //= p
            assert n >= 1


@pytest.mark.parametrize("arch", sorted(TINY))
def test_config_round_trips_through_json(arch):
    model = build_classifier(arch, n_mels=16, n_frames=20, n_classes=3, **TINY[arch])
    as_json = json.loads(json.dumps(dataclasses.asdict(model.config)))
    assert make_config(arch, as_json) == model.config
    assert architecture_of(model) == arch


def test_example_norm_modes():
    torch.manual_seed(0)
    x = torch.randn(3, 8, 10) * 5 + torch.tensor([-40.0, 0.0, 12.0]).view(3, 1, 1)
    peak = ExampleNorm("max")(x)
    assert torch.allclose(peak.amax(dim=(1, 2)), torch.zeros(3))
    assert torch.allclose(ExampleNorm("max")(x + 17.0), peak, atol=1e-5)  # level-invariant
    assert torch.allclose(ExampleNorm("mean")(x).mean(dim=(1, 2)), torch.zeros(3), atol=1e-5)
    std = ExampleNorm("standard")(x)
    assert torch.allclose(std.std(dim=(1, 2), unbiased=False), torch.ones(3), atol=1e-4)
    assert torch.equal(ExampleNorm("standard")(torch.zeros(2, 4, 4)), torch.zeros(2, 4, 4))
    assert ExampleNorm("none")(x) is x
    with pytest.raises(ParameterError, match="mode='peak'"):
        ExampleNorm("peak")


@pytest.mark.parametrize("arch", sorted(TINY))
def test_example_norm_max_makes_every_network_level_invariant(arch):
    torch.manual_seed(0)
    model = build_classifier(
        arch, n_mels=16, n_frames=20, n_classes=3, example_norm="max", **TINY[arch]
    ).eval()
    assert model.config.example_norm == "max"
    as_json = json.loads(json.dumps(dataclasses.asdict(model.config)))
    assert make_config(arch, as_json).example_norm == "max"  # model files keep it
    x = torch.randn(2, 16, 20) * 10 - 30
    with torch.inference_mode():
        assert torch.allclose(model(x), model(x + 25.0), atol=1e-4)
    plain = build_classifier(arch, n_mels=16, n_frames=20, n_classes=3, **TINY[arch]).eval()
    assert plain.config.example_norm == "none"  # the default keeps older model files' meaning
    with pytest.raises(ParameterError, match="example_norm='peak'"):
        build_classifier(arch, n_mels=16, n_frames=20, n_classes=3, example_norm="peak")


@pytest.mark.parametrize(
    "arch,bad,match",
    [
        ("simple_cnn", {"kernel_size": 4}, "odd"),
        ("simple_cnn", {"dropout": 1.0}, "dropout"),
        ("crnn", {"rnn": "tcn"}, "rnn"),
        ("crnn", {"channels": []}, "channels"),
        ("shortchunk", {"width": 0}, "width"),
        ("shortchunk", {"colour": "red"}, "colour"),
    ],
)
def test_bad_settings_are_named(arch, bad, match):
    with pytest.raises(ParameterError, match=match):
        build_classifier(arch, n_mels=16, n_frames=20, n_classes=3, **bad)


def test_bad_sizes_and_unknown_architecture():
    with pytest.raises(ParameterError, match="n_mels=0"):
        build_classifier("crnn", n_mels=0, n_frames=20, n_classes=3)
    with pytest.raises(ParameterError, match=r"unknown architecture 'resnet9'.*shortchunk"):
        build_classifier("resnet9", n_mels=16, n_frames=20, n_classes=3)


def test_register_classifier(monkeypatch):
    monkeypatch.setattr("torchmusic.models.classify.registry.CLASSIFIERS", dict(CLASSIFIERS))
    from torchmusic.models.classify import registry

    @dataclasses.dataclass
    class LinearConfig:
        n_mels: int
        n_frames: int
        n_classes: int

    class Linear(nn.Module):
        def __init__(self, config: LinearConfig) -> None:
            super().__init__()
            self.config = config
            self.fc = nn.Linear(config.n_mels * config.n_frames, config.n_classes)

        def forward(self, x):
            return self.fc(x.flatten(1))

    registry.register_classifier("linear", LinearConfig, Linear)
    model = registry.build_classifier("linear", n_mels=4, n_frames=5, n_classes=2)
    assert model(torch.randn(3, 4, 5)).shape == (3, 2)
    assert registry.architecture_of(model) == "linear"
    with pytest.raises(ParameterError, match="already registered"):
        register_classifier("crnn", LinearConfig, Linear)
    with pytest.raises(ParameterError, match="lacks fields"):
        registry.register_classifier("x", dataclasses.make_dataclass("C", ["n_mels"]), Linear)
    assert isinstance(build_classifier("crnn", n_mels=8, n_frames=8, n_classes=2), CRNN)
    assert isinstance(build_classifier("simple_cnn", n_mels=8, n_frames=8, n_classes=2), SimpleCNN)
    assert isinstance(
        build_classifier("shortchunk", n_mels=8, n_frames=8, n_classes=2, width=2),
        ShortChunkResNet,
    )


def test_models_package_does_not_import_lightning():
    code = (
        "import sys, torchmusic.models, torchmusic.serve\n"
        "print(any(m.split('.')[0] in ('lightning', 'pytorch_lightning') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
