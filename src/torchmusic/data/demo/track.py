"""Make one clip of the demo corpus: parse a tune, play it on an instrument, save a WAV.

:func:`make_track` is what the build's worker processes run; it takes and returns
plain picklable dataclasses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from torchmusic.audio.fluidsynth import render_midi
from torchmusic.data.demo.instruments import octave_shift
from torchmusic.data.demo.midi import write_midi
from torchmusic.data.demo.tunes import TUNE_TYPES, tune_notes
from torchmusic.errors import DependencyError

PEAK = 10 ** (-1 / 20)  # clips are peak-normalised to -1 dBFS
FADE_SECONDS = 0.5  # fade-out so a clip does not stop with a click mid-note
ARTICULATION = 0.9  # notes sound for 90% of their written length (re-articulation)
VELOCITY = {2: 100, 1: 88, 0: 76}  # downbeat, other beat, off the beat
VELOCITY_JITTER = 6  # +- this much, seeded per track: less mechanical playing


@dataclasses.dataclass(frozen=True)
class TrackJob:
    """Everything needed to render one clip (picklable, for worker processes)."""

    abc: str
    tune_type: str
    program: int
    tempo_scale: float  # multiplies the tune type's typical tempo
    path: str  # absolute output WAV path
    sample_rate: int
    clip_seconds: float
    soundfont: str
    fluidsynth: str


@dataclasses.dataclass(frozen=True)
class TrackResult:
    """Outcome of a :class:`TrackJob`; ``error`` is set when the tune was skipped."""

    duration_s: float = 0.0
    error: str | None = None


def tempo_bpm(tune_type: str, tempo_scale: float) -> float:
    """Felt beats per minute of a clip (the beat of :data:`TUNE_TYPES`)."""
    spec = TUNE_TYPES[tune_type]
    return spec.bars_per_minute * tempo_scale * spec.beats_per_bar


def _performance(job: TrackJob) -> tuple[list, float]:
    """Notes looped to fill the clip, with velocities, and the quarter-note tempo."""
    tune = tune_notes(job.abc)
    bars_per_minute = TUNE_TYPES[job.tune_type].bars_per_minute * job.tempo_scale
    quarter_bpm = bars_per_minute * tune.bar_length
    seconds_per_pass = tune.length * 60.0 / quarter_bpm
    # Loop the tune (as a session would) so every clip is full length: clip
    # length then says nothing about the class. Half a second spare for the crop.
    passes = max(1, math.ceil((job.clip_seconds + 0.5) / seconds_per_pass))
    # Seeded by the file name (not the full path): the same corpus built in
    # another folder is byte-identical.
    name = Path(job.path).name.encode()
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(name).digest()[:8], "little"))
    jitter = rng.integers(-VELOCITY_JITTER, VELOCITY_JITTER + 1, size=passes * len(tune.notes))
    transpose = octave_shift(max(max(n[2]) for n in tune.notes), job.program)
    notes = []
    for repeat in range(passes):
        shift = repeat * tune.length
        for onset, duration, pitches, accent in tune.notes:
            velocity = int(VELOCITY[accent] + jitter[len(notes)])
            played = tuple(p + transpose for p in pitches)
            notes.append((onset + shift, duration * ARTICULATION, played, velocity))
    return notes, quarter_bpm


def _finish(audio: np.ndarray, *, sample_rate: int, clip_seconds: float) -> np.ndarray:
    """Crop to the clip length, fade out and peak-normalise."""
    audio = audio[: round(clip_seconds * sample_rate)].astype(np.float64)
    fade = min(len(audio), round(FADE_SECONDS * sample_rate))
    if fade:
        audio[-fade:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade)))  # raised cosine
    peak = np.abs(audio).max(initial=0.0)
    if peak < 1e-4:
        raise DependencyError("the soundfont rendered silence; is it a General MIDI soundfont?")
    return audio * (PEAK / peak)


def make_track(job: TrackJob) -> TrackResult:
    """Render one clip to ``job.path`` (written atomically).

    Parameters
    ----------
    job : TrackJob

    Returns
    -------
    TrackResult
        The clip's duration, or ``error`` (the music21 message) when the tune
        could not be parsed; nothing is written then.

    Raises
    ------
    DependencyError
        If FluidSynth fails or renders silence (a broken install, not a bad tune).

    Examples
    --------
    >>> make_track(job)  # doctest: +SKIP
    TrackResult(duration_s=30.0, error=None)
    """
    try:
        notes, quarter_bpm = _performance(job)
    except Exception as err:  # music21 raises many types on unreadable ABC
        return TrackResult(error=f"{type(err).__name__}: {err}"[:300])

    path = Path(job.path)
    with tempfile.TemporaryDirectory(prefix="torchmusic-track-") as tmp:
        midi_path = write_midi(
            Path(tmp) / "tune.mid", notes, quarter_bpm=quarter_bpm, program=job.program
        )
        audio = render_midi(
            midi_path,
            soundfont=job.soundfont,
            sample_rate=job.sample_rate,
            fluidsynth=job.fluidsynth,
        )
    audio = _finish(audio, sample_rate=job.sample_rate, clip_seconds=job.clip_seconds)

    # Temp name + os.replace: an interrupted build never leaves a truncated WAV
    # that a resumed build would take for a finished one.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    sf.write(partial, audio, job.sample_rate, subtype="PCM_16", format="WAV")
    os.replace(partial, path)
    return TrackResult(duration_s=len(audio) / job.sample_rate)
