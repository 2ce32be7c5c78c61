"""A corpus of MIDI files with per-file metadata and a train/valid/test split.

Two kinds of folder are understood:

* a folk corpus (``metadata.csv`` from :func:`~torchmusic.symbolic.folk.build_folk_corpus`):
  its rows, splits and labels are used as they are;
* any folder of MIDI files (``*.mid``/``*.midi`` at any depth, any case): each
  file's split comes from a seeded hash of its relative path (80/10/10), so
  adding files never moves the others between splits.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from torchmusic.errors import DataError, ParameterError

SPLITS: tuple[str, ...] = ("train", "valid", "test")
MIDI_SUFFIXES = frozenset({".mid", ".midi"})


def hash_split(name: str, *, seed: int = 0) -> str:
    """Seeded 80/10/10 split of one file by a hash of its name.

    Examples
    --------
    >>> hash_split("a/b.mid") in SPLITS
    True
    """
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    return "train" if u < 0.8 else "valid" if u < 0.9 else "test"


def check_midi_folder(folder: str | os.PathLike[str]) -> Path:
    """``folder`` as a Path if it is a folder (of MIDI files, or a folk corpus).

    Raises
    ------
    DataError
        A JSB Chorales ``.json`` file (a piano-roll model's data: the message says
        so), any other file, or a missing folder.
    """
    root = Path(folder)
    if root.is_file() and root.suffix.lower() == ".json":
        raise DataError(
            f"{root} is a JSON file (JSB Chorales piano rolls), not a folder of MIDI files: "
            "train it with --arch pianoroll (token models need a MIDI folder)"
        )
    if root.is_file():
        raise DataError(f"{root} is a file; expected a folder of MIDI files")
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of MIDI files")
    return root


class MidiCorpus:
    """MIDI files with metadata rows; each row has ``path`` (absolute), ``name``
    (relative to the root) and ``split``, plus any metadata columns.

    Build one with :meth:`from_folder`; select with :meth:`split`.

    Examples
    --------
    >>> corpus = MidiCorpus.from_folder("folk")  # doctest: +SKIP
    >>> len(corpus.split("train")), corpus.values("tune_type")[:3]  # doctest: +SKIP
    (10080, ['air', 'ballad', 'children'])
    """

    def __init__(self, entries: Sequence[dict[str, Any]], root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.entries: list[dict[str, Any]] = [dict(e) for e in entries]
        for e in self.entries:
            if "path" not in e or "split" not in e:
                raise ParameterError(f"corpus entries need 'path' and 'split', got {sorted(e)}")
            e.setdefault("name", Path(e["path"]).name)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str], *, seed: int = 0) -> MidiCorpus:
        """All MIDI files of a folder (a folk corpus's ``metadata.csv`` if present).

        Parameters
        ----------
        folder : path-like
        seed : int
            Seed of the hash split (ignored when ``metadata.csv`` gives splits).

        Raises
        ------
        DataError
            If the folder does not exist or holds no MIDI file.
        """
        from torchmusic.symbolic.folk import load_folk_metadata

        root = check_midi_folder(folder)
        if (root / "metadata.csv").is_file():
            entries = []
            for row in load_folk_metadata(root):
                entries.append({**row, "name": row["path"], "path": str(root / row["path"])})
        else:
            files = sorted(
                p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file()
            )
            entries = []
            for p in files:
                name = p.relative_to(root).as_posix()
                entries.append({"path": str(p), "name": name, "split": hash_split(name, seed=seed)})
        if not entries:
            raise DataError(f"{root} holds no MIDI files (*.mid, *.midi)")
        return cls(entries, root)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.entries[i]

    def __repr__(self) -> str:
        return f"MidiCorpus({str(self.root)!r}, {len(self)} files)"

    @property
    def paths(self) -> list[Path]:
        """Absolute paths of the files, in order."""
        return [Path(e["path"]) for e in self.entries]

    def split(self, name: str) -> MidiCorpus:
        """The files of one split (``train``, ``valid`` or ``test``)."""
        if name not in SPLITS:
            raise ParameterError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return MidiCorpus([e for e in self.entries if e["split"] == name], self.root)

    def values(self, field: str) -> list[str]:
        """Sorted distinct values of a metadata column (e.g. ``"tune_type"``)."""
        if self.entries and field not in self.entries[0]:
            raise ParameterError(
                f"the corpus has no {field!r} column; columns: {', '.join(self.entries[0])}"
            )
        return sorted({str(e[field]) for e in self.entries})
