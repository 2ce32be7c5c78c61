"""Data of GAN training: one-shot sounds (drum hits), decoded once and held in memory.

Sources: a class-per-folder root (``kick/``, ``snare/``, ... at any depth below),
a folder holding a ``manifest.csv``, or a manifest (CSV/TSV/JSONL) with ``path`` and a
label column. A manifest's ``split`` column, when it has one, keeps only the
``train`` rows (and rows without a split), so held-out kits stay unseen. An
unconditional run also takes a plain folder of audio files.

Every clip becomes exactly the model's length (:func:`fit_clip`):

- it starts at its onset: the first sample within ``onset_db`` dB of its peak,
  less ``pre_onset_ms`` (leading silence is dropped);
- **longer** clips are cropped there (the attack and body of a hit are kept, the
  tail cut);
- **shorter** clips are zero-padded at the end (silence after the decay, which is
  what a one-shot sounds like anyway);
- with ``normalize`` (the default) it is scaled to a peak of ``peak``.

Files that cannot be decoded, hold NaN/Inf or are silent are skipped and listed
(``data.json`` of the run, and the command's summary); a run with no usable clip,
or a conditional run with fewer than two classes (or a class left without clips),
is refused before a run folder is made.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from torchmusic.errors import DataError, ParameterError, TorchMusicError
from torchmusic.training.gan.settings import GanTrainConfig


@dataclasses.dataclass
class HitData:
    """The clips of a run.

    Attributes
    ----------
    audio : torch.Tensor
        ``(n, length)`` float32 clips.
    labels : torch.Tensor
        ``(n,)`` class indices (all 0 for an unconditional run without classes).
    classes : list of str
        Class names by index (``[]`` for an unconditional run).
    paths : list of str
        The file of each clip.
    failed : list of (str, str)
        Files left out, with the reason.
    held_out : int
        Manifest rows left out because their split is not ``train``.
    padded : int
        Clips shorter than the model's length (zero-padded).
    """

    audio: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    paths: list[str]
    failed: list[tuple[str, str]]
    held_out: int = 0
    padded: int = 0

    def counts(self) -> dict[str, int]:
        """Clips per class (``{"all": n}`` unconditionally)."""
        if not self.classes:
            return {"all": int(self.audio.shape[0])}
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}

    def loader(self, batch_size: int, *, workers: int = 0) -> DataLoader:
        """Shuffled ``(audio, label)`` batches (the last partial batch dropped when
        there is at least one full one)."""
        ds = TensorDataset(self.audio, self.labels)
        return DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=True,
            drop_last=len(ds) >= batch_size,
            num_workers=workers,
            persistent_workers=workers > 0,
        )


def list_sources(cfg: GanTrainConfig) -> tuple[list[tuple[str, str | None]], list[str], int]:
    """``([(path, label or None), ...], classes, held-out rows)`` of ``cfg.data``.

    Raises
    ------
    DataError
        Missing data, a manifest without the label column, no audio, or (conditional)
        fewer than two classes.
    """
    from torchmusic.data import ClassFolderDataset, ManifestDataset
    from torchmusic.data.discover import find_audio_files

    path = Path(str(cfg.data)).expanduser()
    if not path.exists():
        raise DataError(f"data {str(path)!r} does not exist (expected a folder or a manifest)")
    if path.is_dir() and (path / "manifest.csv").is_file():
        path = path / "manifest.csv"
    held_out = 0
    if path.is_dir():
        subfolders = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if not cfg.conditional and not subfolders:
            files = find_audio_files(path)
            if not files:
                raise DataError(f"folder {str(path)!r} holds no audio file")
            return [(str(f), None) for f in files], [], 0
        if cfg.conditional and not subfolders:
            raise DataError(
                f"{str(path)!r} has no class sub-folders: a conditional GAN needs "
                "root/<class>/<audio files> with at least 2 classes (or train it unconditional: "
                "drop --conditional)"
            )
        ds = ClassFolderDataset(path, sr=cfg.sample_rate)
    else:
        ds = ManifestDataset(
            path,
            label_column=cfg.label_column if cfg.conditional else None,
            sr=cfg.sample_rate,
            multi_label=False,
        )
        kept = [t for t in ds.tracks if t.split is None or t.split.strip().lower() == "train"]
        held_out = len(ds.tracks) - len(kept)
        if not kept:
            raise DataError(
                f"manifest {str(path)!r}: no row has split 'train' (or no split) to train on"
            )
        ds = ds.with_tracks(kept)
    if not cfg.conditional:
        return [(str(t.path), None) for t in ds.tracks], [], held_out
    classes = [c for c in ds.classes if any(c in t.labels for t in ds.tracks)]
    if len(classes) < 2:
        raise DataError(
            f"{str(path)!r} has {len(classes)} class(es) {classes}; a conditional GAN needs at "
            "least 2 classes (train it unconditional: drop --conditional / conditional: false)"
        )
    return [(str(t.path), t.labels[0]) for t in ds.tracks], classes, held_out


def fit_clip(
    y: torch.Tensor,
    length: int,
    *,
    sr: int,
    onset_db: float = -30.0,
    pre_onset_ms: float = 2.0,
    normalize: bool = True,
    peak: float = 0.95,
) -> tuple[torch.Tensor, bool]:
    """``(clip of exactly length samples, was it padded)`` from mono audio ``y``.

    Starts at the onset (first sample within ``onset_db`` dB of the peak, less
    ``pre_onset_ms``), cropped or zero-padded at the end, scaled to ``peak`` when
    ``normalize``.

    Raises
    ------
    DataError
        A silent clip (no onset to find).

    Examples
    --------
    >>> y = torch.cat([torch.zeros(100), torch.ones(10)])
    >>> clip, padded = fit_clip(y, 64, sr=1000, pre_onset_ms=0)
    >>> clip[:3].tolist(), padded
    ([0.949999988079071, 0.949999988079071, 0.949999988079071], True)
    """
    y = y.reshape(-1).float()
    top = float(y.abs().max()) if y.numel() else 0.0
    if top <= 0:
        raise DataError("silent (every sample is 0)")
    threshold = top * 10 ** (onset_db / 20)
    onset = int(torch.nonzero(y.abs() >= threshold)[0, 0])
    start = max(0, onset - round(pre_onset_ms * sr / 1000))
    clip = y[start : start + length]
    padded = clip.shape[0] < length
    if padded:
        clip = torch.nn.functional.pad(clip, (0, length - clip.shape[0]))
    if normalize:
        clip = clip * (peak / float(clip.abs().max()))
    return clip.contiguous(), padded


def load_hits(cfg: GanTrainConfig, length: int, *, workers: int | None = None) -> HitData:
    """Decode every clip of ``cfg.data`` into an in-memory :class:`HitData`.

    Raises
    ------
    DataError
        No usable clip (every failure listed), or a class left without any.
    """
    from torchmusic import audio

    sources, classes, held_out = list_sources(cfg)

    def one(item: tuple[str, str | None]) -> tuple[torch.Tensor, bool] | str:
        path, _ = item
        try:
            y, _ = audio.load(path, sr=cfg.sample_rate, mono=True)
            if not torch.isfinite(y).all():
                return "non-finite samples (NaN or Inf)"
            return fit_clip(
                y,
                length,
                sr=cfg.sample_rate,
                onset_db=cfg.onset_db,
                pre_onset_ms=cfg.pre_onset_ms,
                normalize=cfg.normalize,
                peak=cfg.peak,
            )
        except TorchMusicError as exc:
            return str(exc)
        except (OSError, RuntimeError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"

    n_workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, n_workers)) as pool:
        results = list(pool.map(one, sources))
    clips, labels, paths, failed, padded = [], [], [], [], 0
    index = {c: i for i, c in enumerate(classes)}
    for (path, label), result in zip(sources, results, strict=True):
        if isinstance(result, str):
            failed.append((path, result))
            continue
        clip, was_padded = result
        clips.append(clip)
        labels.append(index[label] if label is not None else 0)
        paths.append(path)
        padded += int(was_padded)
    if not clips:
        listed = "; ".join(f"{p}: {e}" for p, e in failed[:5]) or "no files"
        raise DataError(f"no decodable audio in {cfg.data!r} ({len(failed)} failed: {listed})")
    data = HitData(
        torch.stack(clips),
        torch.tensor(labels, dtype=torch.long),
        classes,
        paths,
        failed,
        held_out,
        padded,
    )
    empty = [c for c, n in data.counts().items() if n == 0]
    if empty:
        raise DataError(
            f"class(es) {empty} of {cfg.data!r} have no usable clip (every file failed: "
            + "; ".join(f"{p}: {e}" for p, e in failed[:5])
            + ")"
        )
    return data


def clip_length(arch: str, config: Any) -> int:
    """Samples per training clip of a network config."""
    if arch == "wavegan":
        return int(config.length)
    if arch == "specgan":
        return int(config.n_frames * config.hop_length)
    raise ParameterError(f"unknown GAN architecture {arch!r}")
