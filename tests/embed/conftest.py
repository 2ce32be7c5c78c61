"""Synthesised audio and tiny embedding model files for the embedding tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from embed_helpers import TINY_FEATURE, TINY_NETS, write_tones


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread():
    # Tiny networks: extra intra-op threads only cost synchronisation on a busy machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="package")
def tone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tones")
    write_tones(folder, [110.0, 220.0, 330.0, 440.0, 550.0, 660.0])
    return folder


@pytest.fixture(scope="package")
def embed_model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An untrained tiny model file per architecture (1 s clips)."""
    from torchmusic.features import FeatureConfig
    from torchmusic.models import clip_frames
    from torchmusic.models.embed import EmbeddingModelSpec, build_embedder, save_embedding_model

    folder = tmp_path_factory.mktemp("embedders")
    feature = FeatureConfig.from_dict(TINY_FEATURE)
    out = {}
    for arch, overrides in TINY_NETS.items():
        torch.manual_seed(0)
        model = build_embedder(
            arch, n_mels=16, n_frames=clip_frames(1.0, feature), **overrides
        ).eval()
        spec = EmbeddingModelSpec(arch, {}, feature.to_dict(), 1.0)
        out[arch] = save_embedding_model(folder / f"{arch}.safetensors", model, spec)
    return out
