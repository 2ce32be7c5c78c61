"""Render MIDI to audio with the FluidSynth program and a General MIDI soundfont.

The one place torchmusic runs FluidSynth: the demo corpus
(:mod:`torchmusic.data.demo`) and the rendering of generated pieces
(:func:`torchmusic.symbolic.render.render_wav`) both call it.

FluidSynth is run as a subprocess (``fluidsynth -F``, its fast file renderer)
rather than through Python bindings: the Debian ``fluidsynth`` package is all it
needs, and a crash cannot take the Python process down.

Soundfont choice: TimGM6mb (6 MB, Debian ``timgm6mb-soundfont``) is searched
first. It is what ``make install`` puts on a fresh machine, so corpora built
there and here are identical; it loads ~2x faster than FluidR3 (148 MB) and
every program we use sounds clean. FluidR3 is MIT-licensed where TimGM6mb is
GPL-2: pass ``soundfont=`` (or set ``TORCHMUSIC_SOUNDFONT``) to FluidR3_GM.sf2
to build a corpus whose audio you intend to redistribute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from torchmusic.errors import DependencyError, ParameterError

SOUNDFONT_ENV = "TORCHMUSIC_SOUNDFONT"
SOUNDFONT_DIR = Path("/usr/share/sounds/sf2")
SOUNDFONT_NAMES: tuple[str, ...] = ("TimGM6mb.sf2", "FluidR3_GM.sf2", "default-GM.sf2")
INSTALL_HINT = (
    "install them with `sudo apt-get install fluidsynth timgm6mb-soundfont` "
    "(or `fluid-soundfont-gm` for the larger MIT-licensed FluidR3 soundfont)"
)


def find_fluidsynth() -> Path:
    """Path of the ``fluidsynth`` program.

    Returns
    -------
    Path

    Raises
    ------
    DependencyError
        If ``fluidsynth`` is not on ``PATH``; the message names the apt packages.

    Examples
    --------
    >>> find_fluidsynth()  # doctest: +SKIP
    PosixPath('/usr/bin/fluidsynth')
    """
    found = shutil.which("fluidsynth")
    if found is None:
        raise DependencyError(
            "rendering MIDI (the demo corpus, generated pieces) needs FluidSynth, but no "
            "`fluidsynth` program "
            f"is on PATH; {INSTALL_HINT}"
        )
    return Path(found)


def check_soundfont(path: Path, *, what: str = "soundfont") -> Path:
    """``path`` if it is a SoundFont (SF2/SF3: a RIFF file of form ``sfbk``).

    FluidSynth given a file that is no SoundFont warns and renders with its own
    default font, so a typo would silently change the sound: refuse it instead.

    Raises
    ------
    ParameterError
        If ``path`` is not a SoundFont file (the message names it).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise ParameterError(
            f"{what} {str(path)!r} cannot be read ({exc.strerror or exc})"
        ) from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise ParameterError(
            f"{what} {str(path)!r} is not a SoundFont (no RIFF 'sfbk' header); expected a "
            "General MIDI .sf2 or .sf3 file"
        )
    return path


def find_soundfont(soundfont: str | os.PathLike[str] | None = None) -> Path:
    """The General MIDI soundfont to render with.

    Search order: the ``soundfont`` argument, the ``TORCHMUSIC_SOUNDFONT``
    environment variable, then ``/usr/share/sounds/sf2/`` for TimGM6mb.sf2,
    FluidR3_GM.sf2 and default-GM.sf2.

    Parameters
    ----------
    soundfont : path-like or None
        An ``.sf2`` file; None searches.

    Returns
    -------
    Path
        The resolved soundfont file.

    Raises
    ------
    ParameterError
        If ``soundfont`` (or the environment variable) names a file that is missing
        or is not a SoundFont.
    DependencyError
        If the environment variable names a missing file, or nothing is found;
        the message names the apt packages to install.

    Examples
    --------
    >>> find_soundfont()  # doctest: +SKIP
    PosixPath('/usr/share/sounds/sf2/TimGM6mb.sf2')
    """
    if soundfont is not None:
        path = Path(soundfont)
        if not path.is_file():
            raise ParameterError(f"soundfont={str(soundfont)!r} is not a file; expected an .sf2")
        return check_soundfont(path.resolve())
    from_env = os.environ.get(SOUNDFONT_ENV)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise DependencyError(
                f"{SOUNDFONT_ENV}={from_env!r} is not a file; point it at an .sf2 soundfont "
                f"or unset it and {INSTALL_HINT}"
            )
        return check_soundfont(path.resolve(), what=SOUNDFONT_ENV)
    for name in SOUNDFONT_NAMES:
        path = SOUNDFONT_DIR / name
        if path.is_file():
            return path.resolve()
    raise DependencyError(
        f"no General MIDI soundfont found (looked at {SOUNDFONT_ENV} and "
        f"{SOUNDFONT_DIR}/{{{','.join(SOUNDFONT_NAMES)}}}); {INSTALL_HINT}"
    )


def fluidsynth_version(fluidsynth: str | os.PathLike[str]) -> str:
    """First line of ``fluidsynth --version`` (recorded in the corpus description)."""
    result = subprocess.run(
        [os.fspath(fluidsynth), "--version"], capture_output=True, text=True, check=False
    )
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def render_midi(
    midi_path: str | os.PathLike[str],
    *,
    soundfont: str | os.PathLike[str],
    sample_rate: int,
    fluidsynth: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """Render a MIDI file to mono audio with FluidSynth.

    Parameters
    ----------
    midi_path : path-like
        The MIDI file.
    soundfont : path-like
        A General MIDI ``.sf2`` file.
    sample_rate : int
        Output rate in Hz (FluidSynth accepts 8000-96000).
    fluidsynth : path-like or None
        The program; None looks it up with :func:`find_fluidsynth`.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32
        The two FluidSynth channels averaged, including the reverb tail.

    Raises
    ------
    DependencyError
        If FluidSynth is missing or fails (its error output is quoted).

    Examples
    --------
    >>> y = render_midi("a.mid", soundfont=find_soundfont(), sample_rate=22050)  # doctest: +SKIP
    >>> y.dtype, y.ndim  # doctest: +SKIP
    (dtype('float32'), 1)
    """
    program = os.fspath(fluidsynth) if fluidsynth is not None else os.fspath(find_fluidsynth())
    with tempfile.TemporaryDirectory(prefix="torchmusic-render-") as tmp:
        wav = Path(tmp) / "render.wav"
        command = [
            program,
            "-n",  # no MIDI input driver
            "-i",  # no interactive shell
            "-q",
            "-F", os.fspath(wav),
            "-T", "wav",
            "-O", "float",  # keep full precision until our own normalisation
            "-r", str(int(sample_rate)),
            os.fspath(soundfont),
            os.fspath(midi_path),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not wav.is_file():
            raise DependencyError(
                f"fluidsynth failed (exit {result.returncode}) rendering {midi_path} with "
                f"{soundfont}: {(result.stderr or result.stdout).strip()[-500:]}"
            )
        audio, _ = sf.read(wav, dtype="float32", always_2d=True)
    return audio.mean(axis=1)
