"""A feature matrix as a PNG image: colour-mapped, low bins at the bottom, numpy + zlib only.

matplotlib would cost a second of import and more per image; a spectrogram image is
just a colour lookup and the PNG container.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

#: Anchor colours of the map (dark blue -> purple -> orange -> light yellow), low to high.
_ANCHORS = np.array(
    [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]],
    dtype=np.float64,
)
_LUT = np.stack(
    [np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_ANCHORS)), _ANCHORS[:, c])
     for c in range(3)],
    axis=1,
).astype(np.uint8)  # fmt: skip


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def matrix_png(values: np.ndarray, *, scale: int = 1) -> bytes:
    """PNG bytes of a ``(bins, frames)`` matrix, min..max mapped to the colour map.

    Parameters
    ----------
    values : np.ndarray [shape=(bins, frames)]
        Finite numbers; row 0 is drawn at the bottom.
    scale : int
        Each bin drawn ``scale`` pixels tall (small matrices such as chroma).

    Returns
    -------
    bytes

    Examples
    --------
    >>> matrix_png(np.eye(4))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"values must be a non-empty 2-D matrix, got shape {v.shape}")
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    norm = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    rgb = _LUT[np.clip((norm * 255).round(), 0, 255).astype(np.uint8)][::-1]
    if scale > 1:
        rgb = np.repeat(rgb, scale, axis=0)
    height, width = rgb.shape[:2]
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )
