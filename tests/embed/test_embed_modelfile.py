"""Embedding model files: round trip, fingerprints, and every way a file can be bad."""

from __future__ import annotations

import json

import pytest
import safetensors.torch
import torch
from embed_helpers import TINY_FEATURE

from torchmusic.errors import DataError, ParameterError
from torchmusic.features import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, clip_frames, save_classifier
from torchmusic.models.embed import (
    EmbeddingModelSpec,
    build_embedder,
    load_embedding_model,
    model_fingerprint,
    read_embedding_spec,
    save_embedding_model,
)


def test_round_trip_gives_identical_embeddings(embed_model_files):
    for arch, path in embed_model_files.items():
        model, spec = load_embedding_model(path)
        assert spec.architecture == arch and spec.dim == 8
        assert read_embedding_spec(path) == spec
        x = torch.randn(2, 16, model.config.n_frames)
        reloaded, _ = load_embedding_model(path)
        assert torch.equal(model.embed(x), reloaded.embed(x))


def test_fingerprint_is_stable_and_tracks_the_weights(tmp_path, embed_model_files):
    path = embed_model_files["contrastive"]
    assert model_fingerprint(path) == model_fingerprint(path)
    model, spec = load_embedding_model(path)
    with torch.no_grad():
        model.to_embedding.bias.add_(1.0)
    other = save_embedding_model(tmp_path / "other.safetensors", model, spec)
    assert model_fingerprint(other) != model_fingerprint(path)


def test_spec_must_match_the_network(tmp_path):
    feature = FeatureConfig.from_dict(TINY_FEATURE)
    model = build_embedder("autoencoder", n_mels=16, n_frames=clip_frames(1.0, feature), dim=4)
    with pytest.raises(ParameterError, match="n_frames"):
        save_embedding_model(
            tmp_path / "x.safetensors",
            model,
            EmbeddingModelSpec("autoencoder", {}, feature.to_dict(), 2.0),
        )
    with pytest.raises(ParameterError, match="architecture"):
        save_embedding_model(
            tmp_path / "x.safetensors",
            model,
            EmbeddingModelSpec("contrastive", {}, feature.to_dict(), 1.0),
        )


def test_truncated_and_tampered_files_are_refused(tmp_path, embed_model_files):
    raw = embed_model_files["autoencoder"].read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated"):
        load_embedding_model(truncated)
    flipped = bytearray(raw)
    flipped[-3] ^= 0xFF
    tampered = tmp_path / "tampered.safetensors"
    tampered.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="checksum"):
        load_embedding_model(tampered)


def test_pickles_and_foreign_safetensors_are_refused(tmp_path):
    pickled = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, pickled)
    with pytest.raises(DataError, match="pickled"):
        load_embedding_model(pickled)
    foreign = tmp_path / "foreign.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(DataError, match="not a torchmusic model file"):
        load_embedding_model(foreign)
    with pytest.raises(DataError, match="cannot read"):
        load_embedding_model(tmp_path / "missing.safetensors")


def test_a_classifier_file_is_not_an_embedding_model_file(tmp_path):
    feature = FeatureConfig.from_dict(TINY_FEATURE)
    n_frames = clip_frames(1.0, feature)
    clf = build_classifier(
        "simple_cnn", n_mels=16, n_frames=n_frames, n_classes=2, channels=[4], dense_units=8
    )
    spec = ClassifierSpec("simple_cnn", {}, ["a", "b"], False, feature.to_dict(), 1.0)
    path = save_classifier(tmp_path / "clf.safetensors", clf, spec)
    with pytest.raises(DataError, match="not an embedding model file"):
        load_embedding_model(path)
    # ... but it has a fingerprint, so catalogs can record it.
    assert len(model_fingerprint(path)) == 32


def test_spec_json_is_plain_and_complete(embed_model_files):
    with safetensors.safe_open(embed_model_files["contrastive"], "pt") as f:
        meta = f.metadata()
    assert meta["format"] == "torchmusic.embedder"
    spec = json.loads(meta["spec"])
    assert spec["model_config"]["dim"] == 8 and spec["clip_seconds"] == 1.0
