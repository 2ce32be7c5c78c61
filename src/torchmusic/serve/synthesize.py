"""Using a GAN model file: new one-shot sounds (drum hits) on demand.

:func:`load_gan` reads a GAN model file (``torchmusic.gan``: WaveGAN or SpecGAN,
class-conditional or not); :func:`synthesize` draws ``n`` sounds of one class (or of
every class in turn) from seeded latents, :func:`interpolate` walks from one class to
another with the latent held fixed, and :func:`write_hits` writes a WAV and a
log-mel PNG per sound.

Reproducible: the latents come from a CPU ``torch.Generator`` seeded with ``seed``,
so the same seed gives the same sounds on any device (up to the device's float
arithmetic). A SpecGAN's log-mels become audio through the vocoder its file names
(or ``vocoder=``), else Griffin-Lim (librosa).

No Lightning and no training code are imported here.

Examples
--------
>>> gan = load_gan("runs/drum-gan/model.safetensors")  # doctest: +SKIP
>>> hits = synthesize(gan, label="kick", n=8, seed=0)  # doctest: +SKIP
>>> hits.shape  # doctest: +SKIP
torch.Size([8, 16384])
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig

#: Griffin-Lim iterations of a SpecGAN without a vocoder.
GRIFFIN_LIM_ITERATIONS = 32

__all__ = [
    "GanModel",
    "generator_audio",
    "interpolate",
    "label_indices",
    "latents",
    "load_gan",
    "synthesize",
    "write_hits",
]


@dataclasses.dataclass(eq=False)
class GanModel:
    """A loaded GAN model file (see :func:`load_gan`).

    Attributes
    ----------
    net : nn.Module
        The generator, in eval mode, on ``device``.
    spec : GanSpec
        What the file says (architecture, labels, sample rate, feature, vocoder).
    device : torch.device
    path : str
        The file or shipped name it came from.
    vocoder : str or None
        SpecGAN: the vocoder used to make audio (None: Griffin-Lim).
    """

    net: nn.Module
    spec: Any
    device: torch.device
    path: str
    vocoder: str | None = None

    @property
    def labels(self) -> list[str]:
        """Class names (empty for an unconditional model)."""
        return list(self.spec.labels)

    @property
    def conditional(self) -> bool:
        return bool(self.spec.labels)

    @property
    def sample_rate(self) -> int:
        return int(self.spec.sample_rate)

    @property
    def architecture(self) -> str:
        return str(self.spec.architecture)

    @property
    def feature(self) -> FeatureConfig:
        """The log-mel of the model's pictures (and of a SpecGAN's output)."""
        return self.spec.feature_config()

    @property
    def samples(self) -> int:
        """Length of every sound in samples."""
        cfg = self.net.config
        return cfg.length if self.architecture == "wavegan" else cfg.n_frames * cfg.hop_length

    def __repr__(self) -> str:
        kind = f"{len(self.labels)} classes" if self.conditional else "unconditional"
        return f"GanModel({self.path!r}, {self.architecture}, {kind}, sr={self.sample_rate})"


def load_gan(
    model: str | os.PathLike[str] | GanModel,
    *,
    device: str | torch.device = "cpu",
    vocoder: str | os.PathLike[str] | None = None,
) -> GanModel:
    """Load a GAN model file (or shipped name).

    Parameters
    ----------
    model : str or os.PathLike
        The file (``run_dir/model.safetensors``) or a shipped model's name.
    device : str or torch.device
        Where the generator runs.
    vocoder : str or os.PathLike, optional
        SpecGAN: a vocoder model file to use instead of the file's choice.

    Raises
    ------
    DataError
        Missing, pickled, corrupt or another kind of model file (a classifier or a
        vocoder is named as one).
    ParameterError
        ``vocoder`` given for a WaveGAN.
    """
    if isinstance(model, GanModel):
        return model
    from torchmusic.models.gan.ganfile import load_gan_file

    dev = torch.device(device)
    net, spec = load_gan_file(model, device=dev)
    if vocoder is not None and spec.architecture != "specgan":
        raise ParameterError(
            f"--vocoder {str(vocoder)!r}: {model} is a {spec.architecture} model, which makes "
            "audio itself; a vocoder only applies to a specgan model"
        )
    chosen = str(vocoder) if vocoder is not None else spec.vocoder
    return GanModel(net.eval(), spec, dev, str(model), chosen)


def latents(
    n: int, latent_dim: int, *, seed: int = 0, truncation: float | None = None
) -> torch.Tensor:
    """``(n, latent_dim)`` standard-normal latents from a CPU generator seeded with ``seed``.

    With ``truncation`` every value outside ``[-truncation, truncation]`` is drawn
    again until it falls inside (the *truncation trick* of BigGAN, Brock et al.,
    2019): sounds nearer the typical ones of each class, less varied.

    Examples
    --------
    >>> torch.equal(latents(2, 4, seed=1), latents(2, 4, seed=1))
    True
    >>> bool(latents(100, 8, truncation=0.5).abs().max() <= 0.5)
    True
    """
    _check_count("n", n)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ParameterError(f"seed={seed!r} must be an integer")
    limit = check_truncation(truncation)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, latent_dim, generator=gen)
    if limit is not None:
        outside = z.abs() > limit
        while outside.any():
            z[outside] = torch.randn(int(outside.sum()), generator=gen)
            outside = z.abs() > limit
    return z


def check_truncation(truncation: object) -> float | None:
    """``truncation`` as a float > 0, or None (no truncation)."""
    if truncation is None:
        return None
    if (
        isinstance(truncation, bool)
        or not isinstance(truncation, int | float)
        or not 0 < truncation < math.inf
    ):
        raise ParameterError(
            f"truncation={truncation!r} must be a positive number (or None: no truncation)"
        )
    return float(truncation)


def default_truncation(model: GanModel, truncation: float | str | None) -> float | None:
    """The truncation to sample with: ``truncation``, else the model file's choice.

    ``"none"`` turns off a truncation the file asks for.
    """
    if isinstance(truncation, str):
        if truncation.lower() == "none":
            return None
        try:
            truncation = float(truncation)
        except ValueError:
            raise ParameterError(
                f"truncation={truncation!r} must be a positive number or 'none'"
            ) from None
    if truncation is None:
        truncation = model.spec.extra.get("truncation")
    return check_truncation(truncation)


def _check_count(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return value


def label_index(model: GanModel, label: str | int) -> int:
    """The class index of ``label`` (a class name, or its index).

    Raises
    ------
    ParameterError
        An unconditional model, or an unknown label (the valid ones are listed).
    """
    if not model.conditional:
        raise ParameterError(
            f"{model.path} is an unconditional GAN (trained without --conditional): it takes "
            f"no --label; drop --label to draw sounds of any kind"
        )
    labels = model.labels
    if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(labels):
        return label
    if isinstance(label, str) and label in labels:
        return labels.index(label)
    raise ParameterError(f"unknown label {label!r}; this model's labels are: {', '.join(labels)}")


def label_indices(model: GanModel, label: str | int | None, n: int) -> torch.Tensor | None:
    """``(n,)`` class indices for ``n`` sounds: ``label`` each time, or (``label=None`` on a
    conditional model) every class in turn; None for an unconditional model."""
    _check_count("n", n)
    if label is not None:
        return torch.full((n,), label_index(model, label), dtype=torch.long)
    if not model.conditional:
        return None
    return torch.arange(n, dtype=torch.long) % len(model.labels)


def generator_audio(
    output: torch.Tensor,
    *,
    architecture: str,
    config: Any,
    feature: FeatureConfig | None = None,
    vocoder: str | None = None,
    device: str | torch.device = "cpu",
    n_iter: int = GRIFFIN_LIM_ITERATIONS,
) -> torch.Tensor:
    """A generator's output as ``(n, samples)`` float32 audio on the CPU, in [-1, 1].

    WaveGAN: the output itself. SpecGAN: the [-1, 1] log-mel mapped to dB
    (:func:`~torchmusic.models.gan.to_db`) and inverted by ``vocoder`` (a vocoder
    model file whose log-mel is ``feature``) or Griffin-Lim (``n_iter`` iterations).
    """
    out = output.detach().float()
    if architecture == "wavegan":
        return out.cpu().clamp(-1.0, 1.0)
    from torchmusic.models.gan.ganfile import specgan_feature
    from torchmusic.models.gan.specgan import to_db

    feature = feature or specgan_feature(config)
    mel_db = to_db(out, db_range=config.db_range).cpu()
    samples = config.n_frames * config.hop_length
    if vocoder is not None:
        from torchmusic.serve.vocode import Vocoder

        audio = Vocoder(vocoder, device=device)(mel_db, feature=feature)
    else:
        audio = _griffin_lim(mel_db, feature, n_iter=n_iter)
    audio = audio[..., :samples]
    audio = torch.nn.functional.pad(audio, (0, samples - audio.shape[-1]))
    return audio.float().clamp(-1.0, 1.0)


def _griffin_lim(mel_db: torch.Tensor, f: FeatureConfig, *, n_iter: int) -> torch.Tensor:
    try:
        import librosa
    except ImportError:  # pragma: no cover - librosa is a dependency of the tests
        raise ParameterError(
            "a SpecGAN without a vocoder needs librosa for Griffin-Lim: pip install librosa"
        ) from None
    power = librosa.db_to_power(mel_db.numpy())
    out = librosa.feature.inverse.mel_to_audio(
        power, sr=f.sr, n_fft=f.n_fft, hop_length=f.hop_length, win_length=f.win_length,
        window=f.window, center=f.center, pad_mode=f.pad_mode, power=f.power, n_iter=n_iter,
        htk=f.htk, norm=f.norm, fmin=f.fmin, fmax=f.fmax,
    )  # fmt: skip
    return torch.from_numpy(out).float()


def _run(model: GanModel, inputs: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        output = model.net.from_input(inputs.to(model.device))
    return generator_audio(
        output,
        architecture=model.architecture,
        config=model.net.config,
        feature=model.feature,
        vocoder=model.vocoder,
        device=model.device,
    )


def synthesize(
    model: str | os.PathLike[str] | GanModel,
    *,
    label: str | int | None = None,
    n: int = 8,
    seed: int = 0,
    truncation: float | str | None = None,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``n`` new sounds as ``(n, samples)`` float32 audio at ``model.sample_rate``.

    Parameters
    ----------
    model : GanModel, str or os.PathLike
        A loaded model or a GAN model file (loaded onto ``device``).
    label : str or int, optional
        The class of every sound (a conditional model). None: every class in turn
        (a conditional model) or sounds of any kind (an unconditional one).
    n : int
        How many sounds.
    seed : int
        Seed of the latents: the same seed gives the same sounds.
    truncation : float or "none", optional
        Latent values are drawn from ``[-truncation, truncation]`` (:func:`latents`);
        default: the model file's choice (``spec.extra["truncation"]``), else none.

    Raises
    ------
    ParameterError
        An unknown label (the valid ones are listed), a label for an
        unconditional model, or a truncation that is not a positive number.

    Examples
    --------
    >>> hits = synthesize("drum-gan.safetensors", label="kick", n=4, seed=0)  # doctest: +SKIP
    """
    gan = load_gan(model, device=device)
    labels = label_indices(gan, label, n)
    limit = default_truncation(gan, truncation)
    z = latents(n, gan.net.config.latent_dim, seed=seed, truncation=limit)
    with torch.inference_mode():
        inputs = z.to(gan.device)
        if labels is not None:
            inputs = torch.cat([inputs, gan.net.label_embedding(labels.to(gan.device))], dim=1)
    return _run(gan, inputs)


def interpolate(
    model: str | os.PathLike[str] | GanModel,
    start: str | int,
    end: str | int,
    *,
    steps: int = 8,
    seed: int = 0,
    truncation: float | str | None = None,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``(steps, samples)``: one latent, its class embedding moved from ``start`` to ``end``.

    The first sound is ``synthesize(model, label=start, n=1, seed=seed)``, the last
    the same latent as ``end``; in between, the two classes' embeddings are mixed
    linearly. ``truncation`` as in :func:`synthesize`.

    Raises
    ------
    ParameterError
        An unconditional model, an unknown label, or ``steps < 2``.
    """
    gan = load_gan(model, device=device)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ParameterError(f"steps={steps!r} must be an integer >= 2")
    a, b = label_index(gan, start), label_index(gan, end)
    limit = default_truncation(gan, truncation)
    z = latents(1, gan.net.config.latent_dim, seed=seed, truncation=limit).to(gan.device)
    with torch.inference_mode():
        emb = gan.net.label_embedding(torch.tensor([a, b], device=gan.device))
        t = torch.linspace(0.0, 1.0, steps, device=gan.device).unsqueeze(1)
        mixed = (1 - t) * emb[0] + t * emb[1]
        inputs = torch.cat([z.expand(steps, -1), mixed.to(z.dtype)], dim=1)
    return _run(gan, inputs)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """``text`` as a file-name part (letters, digits, ``._-``)."""
    return _UNSAFE.sub("_", text).strip("_") or "hit"


def write_hits(
    audio: torch.Tensor,
    out_dir: str | os.PathLike[str],
    names: Sequence[str],
    *,
    sample_rate: int,
    feature: FeatureConfig | None = None,
    png: bool = True,
    titles: Sequence[str] | None = None,
) -> list[Path]:
    """Write ``<name>.wav`` (16-bit) and, with ``png``, ``<name>.png`` (its log-mel) per sound.

    Parameters
    ----------
    audio : torch.Tensor
        ``(n, samples)`` in [-1, 1].
    out_dir : path
        Created when missing.
    names : sequence of str
        ``n`` file names without extension.
    feature : FeatureConfig, optional
        The log-mel the pictures show (default: the toolkit's at ``sample_rate``).

    Returns
    -------
    list of Path
        The files written (each atomically).
    """
    from torchmusic.audio import save

    if audio.ndim != 2 or audio.shape[0] != len(names):
        raise ParameterError(
            f"audio of shape {tuple(audio.shape)} for {len(names)} names: expected (n, samples)"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    feature = feature or FeatureConfig(kind="logmel", sr=sample_rate)
    written: list[Path] = []
    for i, name in enumerate(names):
        wav = out / f"{name}.wav"
        save(wav, audio[i].float().clamp(-1, 1).cpu(), sample_rate, subtype="PCM_16")
        written.append(wav)
        if png:
            title = titles[i] if titles is not None else name
            written.append(spectrogram_png(audio[i], out / f"{name}.png", feature, title=title))
    return written


def spectrogram_png(
    audio: torch.Tensor, path: Path, feature: FeatureConfig, *, title: str = ""
) -> Path:
    """Write the log-mel of one sound as a PNG (atomically); returns ``path``."""
    return spectrogram_grid([audio], path, feature, titles=[title], columns=1)


def spectrogram_grid(
    sounds: Sequence[torch.Tensor],
    path: Path,
    feature: FeatureConfig,
    *,
    titles: Sequence[str],
    columns: int = 4,
) -> Path:
    """Write the log-mels of several sounds as one PNG grid (atomically); returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt

    n = len(sounds)
    cols = max(1, min(columns, n))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, audio, title in zip(axes.flat, sounds, titles, strict=False):
        mel = feature.compute(torch.as_tensor(audio).float().cpu().reshape(1, -1))[0].numpy()
        ax.axis("on")
        ax.imshow(mel, origin="lower", aspect="auto", vmin=mel.max() - 80, vmax=mel.max())
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
    return path
