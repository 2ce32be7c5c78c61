"""MIDI I/O through symusic: round trip, atomic writes, bad files, drums-only, merging."""

from __future__ import annotations

import numpy as np
import pytest
import symusic

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic import merge_tracks, notes_to_score, pitched_notes, read_midi, write_midi


def test_write_read_round_trip_keeps_notes_and_signatures(tmp_path, melody):
    score = melody(time_signature=(6, 8), key_signature=(2, 0), tempo=96.0)
    path = write_midi(score, tmp_path / "deep" / "tune.mid")
    assert path.is_file() and not list(path.parent.glob("*.part"))
    back = read_midi(path)
    got, want = pitched_notes(back), pitched_notes(score)
    for field in ("time", "duration", "pitch", "velocity"):
        assert np.array_equal(got[field], want[field]), field
    ts = back.time_signatures[0]
    assert (ts.numerator, ts.denominator) == (6, 8)
    assert back.key_signatures[0].key == 2
    assert back.tempos[0].qpm == pytest.approx(96.0, rel=1e-3)


def test_read_midi_missing_empty_corrupt_and_silent_name_the_file(tmp_path):
    with pytest.raises(DataError, match="no such MIDI file"):
        read_midi(tmp_path / "nope.mid")
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.mid is empty"):
        read_midi(empty)
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06this is not a MIDI file at all")
    with pytest.raises(DataError, match=r"corrupt\.mid is not a readable MIDI file"):
        read_midi(corrupt)
    silent = write_midi(symusic.Score(480), tmp_path / "silent.mid")
    with pytest.raises(DataError, match=r"silent\.mid holds no notes"):
        read_midi(silent)


def test_drums_only_has_no_pitched_notes(tmp_path, drums_only):
    path = write_midi(drums_only(), tmp_path / "kit.mid")
    score = read_midi(path)  # a readable file with notes...
    assert score.note_num() == 4
    with pytest.raises(DataError, match=r"kit\.mid has only drum tracks"):
        pitched_notes(score, source=str(path))  # ...but nothing to model


def test_merge_tracks_joins_pitched_tracks_drops_drums_and_leaves_input_alone(melody, drums_only):
    score = melody((60, 64, 67), time_signature=(2, 2))
    second = melody((48, 52), step=1.0).tracks[0]
    second.program = 32
    score.tracks.append(second)
    score.tracks.append(drums_only().tracks[0])
    merged = merge_tracks(score)
    assert len(merged.tracks) == 1 and not merged.tracks[0].is_drum
    notes = pitched_notes(merged)
    assert notes["pitch"].tolist() == [48, 60, 64, 52, 67]  # sorted by (time, pitch)
    assert notes["time"].tolist() == [0, 0, 240, 480, 480]
    merged.time_signatures[0].numerator = 4  # editing the merge...
    assert score.time_signatures[0].numerator == 2  # ...does not touch the input
    assert len(score.tracks) == 3


def test_notes_to_score_validates_its_arrays():
    with pytest.raises(ParameterError, match="equally long"):
        notes_to_score([0.0, 1.0], [1.0], [60, 62])
    with pytest.raises(ParameterError, match=r"\[0, 127\]"):
        notes_to_score([0.0], [1.0], [128])
    with pytest.raises(ParameterError, match="onsets"):
        notes_to_score([-1.0], [1.0], [60])
    # A zero-length note keeps one tick: MIDI cannot store an empty note.
    assert notes_to_score([0.0], [0.0], [60]).tracks[0].notes[0].duration == 1


def test_write_midi_rejects_non_scores(tmp_path):
    with pytest.raises(ParameterError, match=r"symusic\.Score"):
        write_midi([(0, 1, 60)], tmp_path / "x.mid")


def test_written_midi_gets_the_usual_file_mode(tmp_path):
    import os
    import stat

    import symusic

    from torchmusic.symbolic import write_midi

    score = symusic.Score(480)
    track = symusic.Track(program=0)
    track.notes.append(symusic.Note(0, 480, 60, 80))
    score.tracks.append(track)
    out = write_midi(score, tmp_path / "a.mid")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
