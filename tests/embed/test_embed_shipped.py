"""The shipped general-purpose encoder ``music-embed``."""

from __future__ import annotations

import numpy as np
import torch

from torchmusic.embed import get_embedder
from torchmusic.pretrained import pretrained_dir


def test_music_embed_is_shipped_small_with_its_licences():
    path = pretrained_dir() / "music-embed.safetensors"
    assert path.is_file() and path.stat().st_size <= 30 * 2**20
    licences = (pretrained_dir() / "LICENSES-music-embed.md").read_text()
    assert "hydrogen-drumkits" in licences and "wesnoth" in licences


def test_music_embed_encoder_embeds_deterministically_and_tells_tracks_apart():
    emb = get_embedder("music-embed-encoder")
    assert emb.info.name == "contrastive" and emb.dim == 256
    assert emb.feature.sr == 22050 and emb.feature.n_mels == 64
    g = torch.Generator().manual_seed(0)
    t = torch.arange(22050 * 7) / 22050
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * t)
    noise = 0.1 * torch.randn(t.numel(), generator=g)
    a1, a2, b = emb.embed_waveform(tone), emb.embed_waveform(tone), emb.embed_waveform(noise)
    assert a1.shape == (256,) and np.isclose(np.linalg.norm(a1), 1.0, atol=1e-5)
    assert np.array_equal(a1, a2)
    assert float(a1 @ b) < 0.99  # a tone and noise are not the same track
