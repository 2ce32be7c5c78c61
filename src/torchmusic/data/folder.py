"""Class-per-folder datasets: ``root/<label>/**/<audio files>``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from torchmusic.data.discover import AUDIO_EXTENSIONS, find_audio_files
from torchmusic.data.tracks import Track, TrackDataset
from torchmusic.errors import DataError
from torchmusic.features.config import FeatureConfig


class ClassFolderDataset(TrackDataset):
    """Audio files labelled by the name of their top-level folder.

    ``root/<label>/**/*.wav|flac|ogg|opus|mp3|...``: every immediate sub-folder of
    ``root`` is a class, and every audio file below it (at any depth) is a track of
    that class. GTZAN's ``genres/<genre>/<genre>.000NN.wav`` works as is with
    ``root=".../genres"``. A track's id is its path relative to ``root`` without the
    extension (``"country/country.00000"``), which is what split lists name.

    Parameters
    ----------
    root : path
        The folder holding one sub-folder per class.
    sr : int, optional
        Sample rate audio is loaded at (default ``features.sr`` or 22050).
    mono : bool
        Mix to mono.
    clip : float, optional
        Fixed item length in seconds (the first ``clip`` seconds, zero-padded).
    transform : callable, optional
        Applied to each item's waveform or feature tensor.
    extensions : sequence of str
        Audio file extensions to include.
    features : FeatureConfig, optional
        Return features instead of waveforms.
    cache_dir : path, optional
        Feature cache folder (with ``features``).
    classes : sequence of str, optional
        Use only these class folders, in this order (default: all, sorted).

    Raises
    ------
    DataError
        If ``root`` is missing, has no class folders, or a class folder holds no
        audio file (the folder is named).

    Examples
    --------
    >>> ds = ClassFolderDataset("gtzan_genre/genres", clip=3.0)  # doctest: +SKIP
    >>> ds.classes[:2], ds[0]["waveform"].shape  # doctest: +SKIP
    (['blues', 'classical'], torch.Size([66150]))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        sr: int | None = None,
        mono: bool = True,
        clip: float | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        features: FeatureConfig | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise DataError(f"dataset root {str(root)!r} does not exist or is not a folder")
        class_dirs = sorted(
            p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        if classes is not None:
            names = {p.name: p for p in class_dirs}
            absent = [c for c in classes if c not in names]
            if absent:
                raise DataError(
                    f"class folder(s) {absent} not found in {str(self.root)!r}; "
                    f"found {sorted(names)}"
                )
            class_dirs = [names[c] for c in classes]
        if not class_dirs:
            raise DataError(
                f"{str(self.root)!r} has no class sub-folders; expected root/<label>/<audio files>"
            )
        tracks: list[Track] = []
        for class_dir in class_dirs:
            files = find_audio_files(class_dir, extensions=extensions)
            if not files:
                raise DataError(
                    f"class folder {str(class_dir)!r} holds no audio file with an extension "
                    f"in {tuple(extensions)}"
                )
            for f in files:
                rel = f.relative_to(self.root)
                tracks.append(
                    Track(path=f, labels=(class_dir.name,), track_id=rel.with_suffix("").as_posix())
                )
        super().__init__(
            tracks,
            classes=[p.name for p in class_dirs],
            sr=sr,
            mono=mono,
            clip=clip,
            features=features,
            cache_dir=cache_dir,
            transform=transform,
        )
