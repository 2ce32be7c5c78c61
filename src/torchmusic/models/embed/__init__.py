"""Audio embedding networks (plain ``nn.Module`` + dataclass configs) and their model files.

- :class:`ConvAutoencoder`: reconstruction of log-mel clips; the bottleneck is the embedding.
- :class:`ContrastiveEncoder`: COLA/SimCLR encoder trained with :func:`nt_xent_loss`
  on two crops of the same track.
- :func:`save_embedding_model` / :func:`load_embedding_model`: safetensors model files
  (format ``"torchmusic.embedder"``), checked like classifier model files.

Every network has ``embed(x)``: features ``(batch, n_mels, n_frames)`` -> L2-normalised
``(batch, dim)``. Training lives in :mod:`torchmusic.training.embed`.

Examples
--------
>>> from torchmusic.models.embed import build_embedder
>>> model = build_embedder("autoencoder", n_mels=64, n_frames=130, dim=64)
>>> model.embed(torch.randn(3, 64, 130)).shape  # doctest: +SKIP
torch.Size([3, 64])
"""

from __future__ import annotations

from torchmusic.models.embed.autoencoder import AutoencoderConfig, ConvAutoencoder
from torchmusic.models.embed.contrastive import ContrastiveConfig, ContrastiveEncoder, nt_xent_loss
from torchmusic.models.embed.embedfile import (
    FORMAT_NAME,
    EmbeddingModelSpec,
    load_embedding_model,
    model_fingerprint,
    read_embedding_spec,
    read_model_metadata,
    save_embedding_model,
)
from torchmusic.models.embed.registry import (
    EMBEDDERS,
    build_embedder,
    embedder_architecture_of,
    make_embedder_config,
)

__all__ = [
    "EMBEDDERS",
    "FORMAT_NAME",
    "AutoencoderConfig",
    "ContrastiveConfig",
    "ContrastiveEncoder",
    "ConvAutoencoder",
    "EmbeddingModelSpec",
    "build_embedder",
    "embedder_architecture_of",
    "load_embedding_model",
    "make_embedder_config",
    "model_fingerprint",
    "nt_xent_loss",
    "read_embedding_spec",
    "read_model_metadata",
    "save_embedding_model",
]
