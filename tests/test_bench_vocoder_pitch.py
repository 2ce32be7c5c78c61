"""The vocoder benchmark's pitch metrics (benchmarks/_pitch.py) on hand-checkable cases.

Scoring of given pitch tracks runs everywhere; the torchcrepe cases (pure tones, silence)
skip without torchcrepe (the `bench` extra).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SR = 22050
NAN = float("nan")


@pytest.fixture(scope="module")
def pitch():
    spec = importlib.util.spec_from_file_location("bench_pitch", BENCH / "_pitch.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_pitch", None)


@pytest.fixture(scope="module")
def crepe(pitch):
    module = pitch.import_torchcrepe()
    if module is None:
        # Not "is not installed": under CI that wording fails the test (tests/conftest.py),
        # and torchcrepe is a benchmark extra CI does not install.
        pytest.skip(f"torchcrepe is missing (optional, for benchmarks): {pitch.INSTALL_HINT}")
    return module


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return 0.5 * np.sin(2 * np.pi * freq * t)


def test_scores_of_given_tracks(pitch):
    # Reference voiced on frames 0-2 at 100 Hz; the estimate an octave up on 1-3.
    ref = (np.array([100.0, 100.0, 100.0, NAN]), np.array([0.9, 0.9, 0.9, 0.0]))
    est = (np.array([NAN, 200.0, 200.0, 200.0]), np.array([0.1, 0.8, 0.8, 0.8]))
    s = pitch.compare_tracks(ref, est)
    assert s["f0_rmse_cents"] == pytest.approx(1200.0)  # frames 1 and 2, one octave each
    assert s["vuv_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # TP 2, FP 1, FN 1
    assert s["periodicity_error"] == pytest.approx((0.8 + 0.1 + 0.1 + 0.8) / 4)


def test_scores_with_nothing_to_compare_are_nan(pitch):
    unvoiced = (np.full(3, NAN), np.zeros(3))
    voiced = (np.full(3, 440.0), np.ones(3))
    both_unvoiced = pitch.compare_tracks(unvoiced, unvoiced)
    assert math.isnan(both_unvoiced["f0_rmse_cents"]) and math.isnan(both_unvoiced["vuv_f1"])
    assert both_unvoiced["periodicity_error"] == 0.0
    one_side = pitch.compare_tracks(unvoiced, voiced)
    assert math.isnan(one_side["f0_rmse_cents"]) and one_side["vuv_f1"] == 0.0


def test_a_tone_against_itself_is_perfect(pitch, crepe):
    s = pitch.pitch_scores(tone(440.0), tone(440.0), SR, crepe)
    assert s == {"f0_rmse_cents": 0.0, "vuv_f1": 1.0, "periodicity_error": 0.0}
    f0, _periodicity = pitch.pitch_track(tone(440.0), SR, crepe)
    assert len(f0) == 101  # 1 s at a 10 ms hop, centred frames
    assert np.all(~np.isnan(f0)) and np.nanmedian(f0) == pytest.approx(440.0, rel=0.01)


def test_a_semitone_up_is_about_100_cents(pitch, crepe):
    # 466.16 Hz is A#4: 1200 * log2(466.16 / 440) = 100.0 cents.
    s = pitch.pitch_scores(tone(440.0), tone(466.16), SR, crepe)
    assert s["f0_rmse_cents"] == pytest.approx(100.0, abs=10.0)
    assert s["vuv_f1"] == 1.0


@pytest.mark.parametrize("order", ["silence-vs-tone", "tone-vs-silence"])
def test_silence_against_a_tone_has_low_f1(pitch, crepe, order):
    silence = np.zeros(SR)
    ref, est = (silence, tone(440.0)) if order == "silence-vs-tone" else (tone(440.0), silence)
    s = pitch.pitch_scores(ref, est, SR, crepe)
    assert s["vuv_f1"] < 0.1
    assert math.isnan(s["f0_rmse_cents"])  # no frame voiced in both
    assert s["periodicity_error"] > 0.5
