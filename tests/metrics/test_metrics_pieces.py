"""Objective metrics of pieces against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from torchmusic.errors import ParameterError
from torchmusic.metrics.pieces import (
    NoteArray,
    as_notes,
    empty_beat_rate,
    groove_consistency,
    histogram_overlap,
    interval_histogram,
    pitch_class_entropy,
    pitch_range,
    polyphony,
    random_pieces,
    scale_consistency,
    set_metrics,
)


def notes(onsets, pitches, durations=None, bar=4.0):
    onsets = np.asarray(onsets, dtype=float)
    durations = np.ones_like(onsets) if durations is None else np.asarray(durations, dtype=float)
    return NoteArray(onsets, durations, np.asarray(pitches), bar)


def test_pitch_class_entropy_hand_values():
    assert pitch_class_entropy(notes([0, 1], [60, 72])) == 0.0  # one pitch class
    assert pitch_class_entropy(notes([0, 1], [60, 62])) == pytest.approx(1.0)
    assert pitch_class_entropy(notes(range(12), range(60, 72))) == pytest.approx(math.log2(12))
    assert math.isnan(pitch_class_entropy(notes([], [])))


def test_scale_consistency_and_range():
    c_major = notes(range(7), [60, 62, 64, 65, 67, 69, 71])
    assert scale_consistency(c_major) == 1.0
    # 7 of 8 notes fit C major (or another scale); F# leaves it.
    assert scale_consistency(notes(range(8), [60, 62, 64, 65, 67, 69, 71, 66])) == pytest.approx(
        7 / 8
    )
    assert pitch_range(c_major) == 11.0


def test_polyphony_and_empty_beats():
    # A two-note chord for 2 beats, then a rest of 1 beat, then one note for 1 beat.
    piece = notes([0, 0, 3], [60, 64, 67], [2, 2, 1])
    # 16th grid: 8 steps with 2 notes, 4 steps with 1 -> (16 + 4) / 12
    assert polyphony(piece) == pytest.approx(20 / 12)
    assert empty_beat_rate(piece) == pytest.approx(1 / 4)


def test_groove_consistency_hand_values():
    same = notes([0, 1, 4, 5, 8, 9], [60] * 6)  # bars 0..2 with onsets at beats 0 and 1
    assert groove_consistency(same) == 1.0
    # Bar 1 moves its second onset from beat 1 to beat 2: 2 grid cells of 48 differ.
    moved = notes([0, 1, 4, 6], [60] * 4)
    assert groove_consistency(moved) == pytest.approx(1 - 2 / 48)
    assert math.isnan(groove_consistency(notes([0, 1], [60, 62])))


def test_interval_histogram_uses_the_top_line():
    # C-E chord then G: top line E(64) -> G(67): one interval of +3.
    hist = interval_histogram(notes([0, 0, 1], [60, 64, 67]))
    assert hist[12 + 3] == 1.0 and hist.sum() == 1.0


def test_histogram_overlap_and_set_metrics():
    assert histogram_overlap([1, 0], [0, 1]) == 0.0
    assert histogram_overlap([1, 1], [1, 3]) == pytest.approx(0.5 + 0.25)
    real = [notes(range(8), [60, 62, 64, 65, 67, 69, 71, 72])]
    rnd = random_pieces(4, seed=1)
    m_real = set_metrics(real, reference=real)
    m_rand = set_metrics(rnd, reference=real)
    assert m_real["pitch_class_overlap"] == pytest.approx(1.0)
    assert m_rand["pitch_class_overlap"] < 0.9
    assert m_rand["scale_consistency"] < m_real["scale_consistency"]
    with pytest.raises(ParameterError, match="at least one"):
        set_metrics([])


def test_score_input_matches_note_array(tmp_path):
    symusic = pytest.importorskip("symusic")
    score = symusic.Score(480)
    track = symusic.Track(program=0, is_drum=False)
    for i, p in enumerate([60, 62, 64]):
        track.notes.append(symusic.Note(i * 480, 480, p, 80))
    drums = symusic.Track(program=0, is_drum=True)
    drums.notes.append(symusic.Note(0, 240, 36, 100))
    score.tracks.append(track)
    score.tracks.append(drums)
    n = as_notes(score)
    assert n.pitch.tolist() == [60, 62, 64] and n.onset.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ParameterError, match=r"symusic\.Score or a NoteArray"):
        as_notes([1, 2, 3])
