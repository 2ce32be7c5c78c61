"""BackboneClassifier: an embedding encoder + a head, frozen or not, in a self-contained file."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from torchmusic.errors import DataError, ParameterError
from torchmusic.features import FeatureConfig
from torchmusic.models import (
    BackboneClassifier,
    BackboneClassifierConfig,
    ClassifierSpec,
    architecture_of,
    backbone_classifier,
    build_classifier,
    load_classifier,
    save_classifier,
)
from torchmusic.models.embed import ContrastiveConfig, ContrastiveEncoder, build_embedder

FEATURE = FeatureConfig(n_mels=16, n_fft=512, hop_length=256)
N_FRAMES = FEATURE.clip_frames(0.5)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _encoder(seed: int = 0) -> ContrastiveEncoder:
    torch.manual_seed(seed)
    encoder = ContrastiveEncoder(
        ContrastiveConfig(n_mels=16, n_frames=N_FRAMES, dim=12, proj_dim=6, channels=(4, 8))
    )
    encoder.train()
    with torch.no_grad():  # BatchNorm statistics that are not the initial 0 / 1
        encoder(torch.randn(8, 16, N_FRAMES) * 3 + 1)
    return encoder.eval()


def test_it_classifies_with_the_encoders_weights_and_no_projection_head():
    encoder = _encoder()
    model = backbone_classifier(encoder, n_classes=3)
    assert architecture_of(model) == "backbone"
    x = torch.randn(5, 16, N_FRAMES)
    assert model(x).shape == (5, 3)
    model.eval()
    torch.testing.assert_close(model.embedding(x), encoder.features(x), rtol=0, atol=0)
    keys = set(model.state_dict())
    assert not any(k.startswith("encoder.projection") for k in keys)
    assert {"encoder.encoder.1.running_mean", "head.1.weight"} <= keys
    cfg = model.config
    assert (cfg.n_mels, cfg.n_frames, cfg.encoder, cfg.hidden, cfg.freeze) == (
        16, N_FRAMES, "contrastive", 0, True,
    )  # fmt: skip
    assert cfg.encoder_config["dim"] == 12 and cfg.encoder_config["channels"] == (4, 8)


def test_a_frozen_encoder_has_no_gradients_and_stays_in_eval_mode():
    model = backbone_classifier(_encoder(), n_classes=2, hidden=5, dropout=0.1)
    model.train()
    assert not model.encoder.training and model.head.training
    assert all(not p.requires_grad for p in model.backbone_parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    model(torch.randn(4, 16, N_FRAMES)).sum().backward()
    assert all(p.grad is None for p in model.backbone_parameters())
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, before[key]), key  # BatchNorm statistics included

    tuned = backbone_classifier(_encoder(), n_classes=2, freeze=False).train()
    assert tuned.encoder.training
    tuned(torch.randn(4, 16, N_FRAMES)).sum().backward()
    assert all(p.grad is not None for p in tuned.backbone_parameters())


def test_the_classifier_file_is_self_contained(tmp_path):
    model = backbone_classifier(_encoder(), n_classes=2, hidden=4).eval()
    spec = ClassifierSpec("backbone", {}, ["a", "b"], False, FEATURE.to_dict(), 0.5)
    path = save_classifier(tmp_path / "probe.safetensors", model, spec)
    loaded, read = load_classifier(path)
    assert isinstance(loaded, BackboneClassifier)
    assert read.model_config["encoder_config"]["channels"] == [4, 8]  # plain JSON
    x = torch.randn(3, 16, N_FRAMES)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    # The spec's sizes must fit the features and clip, as for every classifier.
    bad = dataclasses.replace(spec, clip_seconds=1.0)
    with pytest.raises(ParameterError, match="n_frames"):
        save_classifier(tmp_path / "bad.safetensors", model, bad)


def test_an_autoencoder_can_be_a_backbone_without_its_decoder():
    torch.manual_seed(0)
    encoder = build_embedder("autoencoder", n_mels=16, n_frames=N_FRAMES, channels=(4, 8), dim=6)
    model = backbone_classifier(encoder.eval(), n_classes=2).eval()
    x = torch.randn(2, 16, N_FRAMES)
    torch.testing.assert_close(model.embedding(x), encoder.code(x), rtol=0, atol=0)
    assert not any(
        k.startswith(("encoder.decoder", "encoder.from_code")) for k in model.state_dict()
    )


def test_bad_settings_and_inputs_are_named():
    with pytest.raises(ParameterError, match="encoder_config n_mels=32 differs from n_mels=16"):
        build_classifier(
            "backbone", n_mels=16, n_frames=N_FRAMES, n_classes=2, encoder_config={"n_mels": 32}
        )
    with pytest.raises(ParameterError, match="encoder='resnet' is not an embedding architecture"):
        BackboneClassifierConfig(16, N_FRAMES, 2, encoder="resnet")
    with pytest.raises(ParameterError, match="hidden=-1"):
        BackboneClassifierConfig(16, N_FRAMES, 2, hidden=-1)
    with pytest.raises(ParameterError, match="unknown setting"):
        BackboneClassifierConfig(16, N_FRAMES, 2, encoder_config={"width": 3})
    model = backbone_classifier(_encoder(), n_classes=2)
    short = N_FRAMES - 3
    with pytest.raises(
        ParameterError, match=rf"input has {short} frames.*exactly \(16, {N_FRAMES}\)"
    ):
        model(torch.randn(2, 16, short))


def test_loading_refuses_a_file_that_is_not_a_classifier(tmp_path):
    from torchmusic.models.embed import EmbeddingModelSpec, save_embedding_model

    path = save_embedding_model(
        tmp_path / "e.safetensors",
        _encoder(),
        EmbeddingModelSpec("contrastive", {}, FEATURE.to_dict(), 0.5),
    )
    with pytest.raises(DataError, match="embedding model file"):
        load_classifier(path)
