"""The permission bits finished output files get.

Files are written to a ``tempfile.mkstemp`` name and renamed into place (atomic);
mkstemp creates them private (0600), so they are given the mode ``open()`` would
have given them before the rename: rw-rw-rw- less the process umask.
"""

from __future__ import annotations

import os


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()
