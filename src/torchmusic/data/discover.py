"""Find audio files in folders, by file extension; name a file by its content.

Discovery looks at names only (no file is opened), so it is fast on large folders;
unreadable files are reported later by whatever decodes them (as a
:class:`FailedFile`). :func:`content_hash` identifies a file by its bytes (the
feature cache and the track catalog key on it).

Torch- and scipy-free: the catalog and the CLI use it without loading either.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from torchmusic.errors import AudioFileError, DataError, ParameterError

_HASH_BYTES = 16  # 128-bit blake2b: collisions are not a practical concern

#: Extensions decoded by libsndfile >= 1.1 (bundled with soundfile >= 0.12).
AUDIO_EXTENSIONS: tuple[str, ...] = (
    ".wav",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".aif",
    ".aiff",
    ".au",
    ".w64",
)


def normalize_extensions(extensions: Iterable[str]) -> tuple[str, ...]:
    """Lower-case extensions with a leading dot: ``["WAV", ".mp3"]`` -> ``(".wav", ".mp3")``."""
    if isinstance(extensions, str):
        extensions = [extensions]
    out = []
    for ext in extensions:
        if not isinstance(ext, str) or not ext.strip("."):
            raise ParameterError(f"extension {ext!r} must be a non-empty string like '.wav'")
        ext = ext.lower()
        out.append(ext if ext.startswith(".") else "." + ext)
    if not out:
        raise ParameterError("extensions must name at least one file extension, e.g. ('.wav',)")
    return tuple(dict.fromkeys(out))


def find_audio_files(
    folder: str | os.PathLike[str],
    *,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    recursive: bool = True,
) -> list[Path]:
    """All audio files under ``folder``, sorted, matched by extension (case-insensitive).

    Hidden files and folders (names starting with ``.``) are skipped: archives
    unpacked on macOS carry ``._name.wav`` resource forks that are not audio.
    Symbolic links to folders are followed, each folder once (a link to a parent
    folder does not loop); a link to a file that loops or dangles is listed like
    any file, and fails when it is read (naming the link).

    Parameters
    ----------
    folder : path
        Folder to search.
    extensions : sequence of str
        File extensions to accept (with or without the dot).
    recursive : bool
        Search sub-folders too.

    Returns
    -------
    list of pathlib.Path
        Sorted (by their path relative to ``folder``), so the order is the same on
        every machine and file system.

    Raises
    ------
    DataError
        If ``folder`` does not exist or is not a folder.

    Examples
    --------
    >>> find_audio_files("genres/country")  # doctest: +SKIP
    [PosixPath('genres/country/country.00000.wav'), ...]
    """
    exts = normalize_extensions(extensions)
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"audio folder {str(root)!r} does not exist or is not a folder")
    found: list[Path] = []
    # Symbolic links to folders are followed, but a folder already visited (a link to
    # a parent, a loop of links) is entered once only, so cycles end.
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        # Pruning in place stops os.walk from descending into hidden folders.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in exts:
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def collect_inputs(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Expand files and folders into ``(file, relative name)`` pairs.

    Folders are searched recursively by extension; files named explicitly are taken
    as they are, whatever their extension. The relative name of every file is its
    path relative to the deepest folder common to all inputs, so files from
    different folders never get the same name (``a/x.wav`` and ``b/x.wav`` stay
    apart).

    Returns
    -------
    inputs : list of (pathlib.Path, str)
        Each file once (duplicates removed), in input order, with its relative
        POSIX name.
    missing : list of pathlib.Path
        Inputs that do not exist (reported by the caller rather than raised, so
        one typo does not stop a long job).

    Examples
    --------
    >>> files, missing = collect_inputs(["genres/"])  # doctest: +SKIP
    >>> files[0]  # doctest: +SKIP
    (PosixPath('genres/blues/blues.00000.wav'), 'blues/blues.00000.wav')
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    # Absolute but not resolved: a folder of symlinks keeps its files' names relative
    # to the folder (resolving would move them out of it); duplicates are found by
    # their resolved targets.
    found: list[tuple[Path, Path]] = []  # (file, the folder its name is relative to)
    missing: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            root = Path(os.path.abspath(path))
            found.extend(
                (Path(os.path.abspath(f)), root)
                for f in find_audio_files(path, extensions=extensions)
            )
        elif path.is_file():
            file = Path(os.path.abspath(path))
            found.append((file, file.parent))
        else:
            missing.append(path)
    if not found:
        return [], missing
    common = Path(os.path.commonpath([str(root) for _, root in found]))
    seen: set[Path] = set()
    inputs: list[tuple[Path, str]] = []
    for file, _ in found:
        # realpath, unlike Path.resolve(), does not raise on a symbolic-link loop: a
        # looping link stays in the list and fails, named, when it is read.
        target = Path(os.path.realpath(file))
        if target not in seen:
            seen.add(target)
            inputs.append((file, file.relative_to(common).as_posix()))
    return inputs, missing


def check_output_folder(
    path: str | os.PathLike[str] | None, *, what: str = "output folder"
) -> Path | None:
    """``path`` as a Path if it can be an output folder: absent (it will be made) or a
    folder. Called before any work, so a typo never costs a finished job.

    Raises
    ------
    DataError
        If ``path`` is an existing file (or a link to one, or a broken link), or a
        file stands where one of its parent folders should be.

    Examples
    --------
    >>> check_output_folder("runs/new")  # doctest: +SKIP
    PosixPath('runs/new')
    """
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        return out
    if out.exists() or out.is_symlink():
        raise DataError(
            f"{what} {str(out)!r} is an existing file; expected a folder (existing or new)"
        )
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise DataError(
                f"{what} {str(out)!r}: {str(parent)!r} is a file, not a folder; expected a "
                "path whose parents are folders"
            )
    return out


@dataclasses.dataclass(frozen=True)
class FailedFile:
    """A file that could not be processed, and why."""

    path: Path
    error: str


def content_hash(path: str | os.PathLike[str]) -> str:
    """Hex blake2b (128-bit) digest of the bytes of ``path``.

    Examples
    --------
    >>> content_hash("song.wav")  # doctest: +SKIP
    '5f1c2e...'
    """
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(
                f, lambda: hashlib.blake2b(digest_size=_HASH_BYTES)
            ).hexdigest()
    except FileNotFoundError:
        raise AudioFileError(f"audio file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise AudioFileError(f"{str(path)!r} is a folder, expected an audio file") from None
