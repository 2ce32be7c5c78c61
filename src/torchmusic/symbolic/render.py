"""Render a score to a WAV file with the FluidSynth program, when it is installed.

Rendering is a convenience for listening to generated pieces: without FluidSynth
(or without a General MIDI soundfont) :func:`render_wav` returns None instead of
failing, so generation works on any machine. The program and soundfont search are
the demo corpus's: both use :mod:`torchmusic.audio.fluidsynth`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import symusic

from torchmusic.errors import DependencyError, ParameterError
from torchmusic.symbolic._mode import FILE_MODE
from torchmusic.symbolic.midi import write_midi


def render_wav(
    score: symusic.Score,
    path: str | os.PathLike[str],
    *,
    soundfont: str | os.PathLike[str] | None = None,
    sr: int = 22050,
) -> Path | None:
    """Render a score to a 16-bit mono WAV file with FluidSynth.

    Parameters
    ----------
    score : symusic.Score
    path : path-like
        Output ``.wav`` (written atomically).
    soundfont : path-like or None
        A General MIDI ``.sf2``; None searches ``$TORCHMUSIC_SOUNDFONT`` and
        ``/usr/share/sounds/sf2/`` (TimGM6mb, FluidR3_GM, default-GM).
    sr : int
        Sample rate in Hz (FluidSynth accepts 8000..96000).

    Returns
    -------
    Path or None
        None when the ``fluidsynth`` program or a soundfont is missing.

    Raises
    ------
    ParameterError
        For a bad ``sr`` or a ``soundfont`` that is not a file.
    DependencyError
        If FluidSynth is installed but fails (its message is quoted).

    Examples
    --------
    >>> render_wav(score, "tune.wav")  # doctest: +SKIP
    PosixPath('tune.wav')
    """
    import soundfile as sf

    from torchmusic.audio.fluidsynth import find_soundfont, render_midi

    if not 8000 <= int(sr) <= 96000:
        raise ParameterError(f"sr={sr!r} must be in [8000, 96000] Hz")
    program = shutil.which("fluidsynth")
    if program is None:
        return None
    try:
        font = find_soundfont(soundfont)
    except DependencyError:
        return None  # no soundfont installed: same as no FluidSynth
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="torchmusic-wav-") as tmp:
        midi = write_midi(score, Path(tmp) / "score.mid")
        audio = render_midi(midi, soundfont=font, sample_rate=int(sr), fluidsynth=program)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > 0.99:  # FluidSynth's float output can exceed full scale with chords
        audio = audio * (0.99 / peak)
    fd, part = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".wav", dir=path.parent)
    os.close(fd)
    try:
        sf.write(part, audio, int(sr), subtype="PCM_16")
        # mkstemp makes the file private (0600): give it the usual mode.
        os.chmod(part, FILE_MODE)
        os.replace(part, path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return path
