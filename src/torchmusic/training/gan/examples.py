"""Sample grids of a GAN run: the same latents every time, so progress can be heard.

``samples/step-NNNNNN/`` holds ``<class>-<i>.wav`` per sound and ``grid.png`` with
their log-mels (one row per class). The latents come from the run's seed, so grids
of different steps differ only by what the generator learned in between.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from torchmusic.features.config import FeatureConfig

#: Griffin-Lim iterations for a SpecGAN's grid (a preview; synthesize uses more).
PREVIEW_ITERATIONS = 16


def write_sample_grid(
    folder: Path,
    generator: nn.Module,
    *,
    arch: str,
    classes: list[str],
    per_class: int,
    seed: int,
    feature: FeatureConfig,
) -> list[Path]:
    """Write one grid: ``per_class`` sounds per class (unconditional: ``4 * per_class``).

    Returns
    -------
    list of Path
        The WAVs and ``grid.png``.
    """
    from torchmusic.serve.synthesize import (
        generator_audio,
        latents,
        spectrogram_grid,
        write_hits,
    )

    config = generator.config
    if classes:
        labels = torch.arange(len(classes)).repeat_interleave(per_class)
        names = [f"{classes[int(y)]}-{i % per_class}" for i, y in enumerate(labels)]
    else:
        labels = None
        names = [f"sample-{i}" for i in range(4 * per_class)]
    z = latents(len(names), config.latent_dim, seed=seed)
    device = next(generator.parameters()).device
    with torch.no_grad():
        out = generator(z.to(device), None if labels is None else labels.to(device))
    audio = generator_audio(
        out, architecture=arch, config=config, feature=feature, n_iter=PREVIEW_ITERATIONS
    )
    folder.mkdir(parents=True, exist_ok=True)
    written = write_hits(audio, folder, names, sample_rate=config.sample_rate, png=False)
    columns = per_class if classes else 4
    written.append(
        spectrogram_grid(list(audio), folder / "grid.png", feature, titles=names, columns=columns)
    )
    return written
