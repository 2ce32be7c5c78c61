"""Validation examples of a vocoder run: audio you can listen to and spectrograms you can see."""

from __future__ import annotations

from pathlib import Path

import torch

from torchmusic.features.config import FeatureConfig


def write_examples(
    folder: Path, real: torch.Tensor, fake: torch.Tensor, *, feature: FeatureConfig
) -> list[Path]:
    """Write ``NN-real.wav``, ``NN-vocoded.wav`` and ``NN.png`` (both log-mels) per segment.

    Parameters
    ----------
    folder : Path
        Created if needed.
    real, fake : torch.Tensor
        ``(n, samples)`` original and generated audio at ``feature.sr``.
    feature : FeatureConfig
        The log-mel the PNGs show (the vocoder's input features).

    Returns
    -------
    list of Path
        The files written.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i in range(real.shape[0]):
        pair = {"real": real[i], "vocoded": fake[i]}
        for name, audio in pair.items():
            path = folder / f"{i:02d}-{name}.wav"
            sf.write(path, audio.clamp(-1, 1).numpy(), feature.sr, subtype="PCM_16")
            written.append(path)
        fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        for ax, (name, audio) in zip(axes, pair.items(), strict=True):
            mel = feature.compute(audio.unsqueeze(0))[0].numpy()
            ax.imshow(mel, origin="lower", aspect="auto", vmin=mel.max() - 80, vmax=mel.max())
            ax.set_ylabel(f"{name}\nmel band")
        axes[-1].set_xlabel(f"frame (hop {feature.hop_length} at {feature.sr} Hz)")
        fig.tight_layout()
        png = folder / f"{i:02d}.png"
        fig.savefig(png, dpi=80)
        plt.close(fig)
        written.append(png)
    return written
