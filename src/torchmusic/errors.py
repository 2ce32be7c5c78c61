"""One exception family for the whole package (like librosa's ``ParameterError``).

Every error a user can trigger with bad input derives from :class:`TorchMusicError`,
so ``except torchmusic.errors.TorchMusicError`` catches all of them. Messages echo
the bad value or file and say what was expected.
"""

from __future__ import annotations


class TorchMusicError(Exception):
    """Base class of every torchmusic error."""


class ParameterError(TorchMusicError, ValueError):
    """An argument has an invalid value (negative hop, n_mels too large, ...)."""


class AudioFileError(TorchMusicError, OSError):
    """An audio file is missing, empty, truncated, corrupt or unsupported."""


class DataError(TorchMusicError, ValueError):
    """A dataset, manifest, split list or cache entry is malformed."""


class DependencyError(TorchMusicError, RuntimeError):
    """An optional dependency (Python package or system program) is missing."""
