"""88-key piano rolls, their plots, and WAV rendering."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic import (
    notes_to_score,
    pianoroll_to_score,
    pitched_notes,
    plot_pianoroll,
    render_wav,
    score_to_pianoroll,
)


def test_score_to_pianoroll_cells():
    # C4 for a quarter, E4 8th at beat 2, A0 and C8 (the range's ends), and a note
    # below the piano (dropped).
    score = notes_to_score([0, 1, 2, 2, 2], [1, 0.5, 0.25, 0.25, 1], [60, 64, 21, 108, 20])
    roll = score_to_pianoroll(score, steps_per_quarter=4)
    assert roll.shape == (12, 88) and roll.dtype == bool
    assert np.flatnonzero(roll[:, 60 - 21]).tolist() == [0, 1, 2, 3]
    assert np.flatnonzero(roll[:, 64 - 21]).tolist() == [4, 5]
    assert roll[8, 0] and roll[8, 87] and roll.sum() == 4 + 2 + 1 + 1
    coarse = score_to_pianoroll(score, steps_per_quarter=1)
    assert coarse.shape == (3, 88) and coarse[1, 64 - 21]  # a short note keeps one step


def test_roll_to_score_and_back_is_identity_on_held_notes():
    rng = np.random.default_rng(0)
    roll = rng.random((64, 88)) < 0.05
    roll[-1, 40] = True  # a note still sounding at the end
    back = score_to_pianoroll(pianoroll_to_score(roll, steps_per_quarter=2), steps_per_quarter=2)
    assert np.array_equal(back, roll[: back.shape[0]]) and not roll[back.shape[0] :].any()
    held = np.zeros((6, 88), dtype=bool)
    held[1:4, 39] = True
    notes = pitched_notes(pianoroll_to_score(held, steps_per_quarter=4))
    assert notes["pitch"].tolist() == [60]
    assert (notes["time"].tolist(), notes["duration"].tolist()) == ([120], [360])
    assert pianoroll_to_score(np.zeros((4, 88))).note_num() == 0


def test_pianoroll_errors(drums_only):
    with pytest.raises(DataError, match="only drum tracks"):
        score_to_pianoroll(drums_only())
    with pytest.raises(ParameterError, match=r"shape \(T, 88\)"):
        pianoroll_to_score(np.zeros((4, 87)))
    with pytest.raises(ParameterError, match="steps_per_quarter"):
        score_to_pianoroll(notes_to_score([0.0], [1.0], [60]), steps_per_quarter=0)


def test_plot_pianoroll_writes_png_from_roll_or_score(tmp_path, melody):
    a = plot_pianoroll(melody(), tmp_path / "a.png", title="melody")
    roll = np.zeros((16, 88), dtype=bool)
    b = plot_pianoroll(roll, tmp_path / "sub" / "b.png")
    for path in (a, b):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    assert not list(tmp_path.rglob(".*"))  # no temporary files left


def test_plot_pianoroll_draws_a_silent_score(tmp_path):
    import symusic

    silent = symusic.Score(480)  # e.g. one step of a VAE interpolation with no notes
    path = plot_pianoroll(silent, tmp_path / "silent.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="FluidSynth not installed")
def test_render_wav_with_fluidsynth(tmp_path, melody):
    path = render_wav(melody(), tmp_path / "m.wav", sr=16000)
    y, sr = sf.read(path)
    assert sr == 16000 and y.ndim == 1
    assert y.size > 16000 * 2.5 * 60 / 120 * 0.9  # 2.5 quarters at 120 bpm, plus release
    assert 0.001 < np.abs(y).max() <= 1.0


def test_render_wav_without_fluidsynth_returns_none(tmp_path, melody, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert render_wav(melody(), tmp_path / "m.wav") is None
    assert not (tmp_path / "m.wav").exists()
    with pytest.raises(ParameterError, match="sr="):
        render_wav(melody(), tmp_path / "m.wav", sr=100)
