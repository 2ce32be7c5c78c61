"""Write a one-instrument Standard MIDI File with music21's low-level MIDI classes.

music21's stream-to-MIDI translation would work too, but building a music21
stream of a looped tune and translating it costs ~10x more than emitting the
events directly, and the corpus writes hundreds of these files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from torchmusic.errors import ParameterError

Note = tuple[float, float, tuple[int, ...], int]  # onset, duration (quarters), pitches, velocity


def write_midi(
    path: str | Path,
    notes: Iterable[Note],
    *,
    quarter_bpm: float,
    program: int,
    ticks_per_quarter: int = 480,
) -> Path:
    """Write notes played by one General MIDI program to a MIDI file.

    Parameters
    ----------
    path : str or Path
        File to write.
    notes : iterable of (float, float, tuple of int, int)
        ``(onset, duration, midi_pitches, velocity)``, times in quarter notes.
    quarter_bpm : float > 0
        Tempo in quarter notes per minute.
    program : int in [0, 127]
        0-based General MIDI program, on MIDI channel 1.
    ticks_per_quarter : int > 0
        Time resolution of the file.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> write_midi("a.mid", [(0.0, 1.0, (60,), 90)], quarter_bpm=120, program=0)  # doctest: +SKIP
    PosixPath('a.mid')
    """
    from music21 import midi

    if not quarter_bpm > 0:
        raise ParameterError(f"quarter_bpm={quarter_bpm!r} must be positive")
    if not 0 <= program <= 127:
        raise ParameterError(f"program={program!r} must be a GM program in [0, 127]")

    track = midi.MidiTrack(1)
    voice = midi.ChannelVoiceMessages
    timed: list[tuple[int, int, midi.MidiEvent]] = []  # (tick, order at that tick, event)

    tempo = midi.MidiEvent(track, type=midi.MetaEvents.SET_TEMPO)
    tempo.data = midi.putNumber(round(60_000_000 / quarter_bpm), 3)  # microseconds a quarter
    timed.append((0, 0, tempo))
    change = midi.MidiEvent(track, type=voice.PROGRAM_CHANGE, channel=1)
    change.data = program
    timed.append((0, 1, change))
    for onset, duration, pitches, velocity in notes:
        start = round(onset * ticks_per_quarter)
        stop = max(start + 1, round((onset + duration) * ticks_per_quarter))
        for pitch in pitches:
            on = midi.MidiEvent(track, type=voice.NOTE_ON, channel=1)
            on.pitch, on.velocity = pitch, velocity
            off = midi.MidiEvent(track, type=voice.NOTE_OFF, channel=1)
            off.pitch, off.velocity = pitch, 0
            # Order 2 before 3: a note ends before the same pitch starts again.
            timed.append((start, 3, on))
            timed.append((stop, 2, off))
    timed.sort(key=lambda item: (item[0], item[1]))

    last = 0
    for tick, _, event in timed:
        track.events.append(midi.DeltaTime(track, time=tick - last))
        track.events.append(event)
        last = tick
    track.events.append(midi.DeltaTime(track, time=0))
    end = midi.MidiEvent(track, type=midi.MetaEvents.END_OF_TRACK)
    end.data = b""
    track.events.append(end)
    track.updateEvents()

    midi_file = midi.MidiFile()
    midi_file.ticksPerQuarterNote = ticks_per_quarter
    midi_file.tracks.append(track)
    path = Path(path)
    midi_file.open(path, "wb")
    try:
        midi_file.write()
    finally:
        midi_file.close()
    return path
