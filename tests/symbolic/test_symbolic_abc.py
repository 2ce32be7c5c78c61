"""One ABC tune -> score: notes, pickup placement, key, and the beaming shortcut."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from torchmusic.symbolic import pitched_notes
from torchmusic.symbolic.abc_score import abc_to_score
from torchmusic.symbolic.folk_meta import scan_collection, subset


def test_pickup_sits_at_the_end_of_the_first_bar_and_key_and_metre_are_read():
    abc = "X:1\nT:Pickup\nM:6/8\nL:1/8\nQ:1/4=90\nK:Ador\nE|ABA GED|EDE G2:|\n"
    tune = abc_to_score(abc, meter="6/8")
    notes = pitched_notes(tune.score)
    tpq = tune.score.ticks_per_quarter
    assert tune.n_notes == 11 and tune.key == "Ador"
    assert notes["time"][0] / tpq == 2.5  # the pickup eighth ends the first 6/8 bar
    assert notes["time"][1] / tpq == 3.0  # the first full bar starts on a bar line
    ts = tune.score.time_signatures[0]
    assert (ts.numerator, ts.denominator) == (6, 8)
    assert tune.score.tempos[0].qpm == pytest.approx(90.0, rel=1e-3)
    assert tune.score.key_signatures[0].key == 1  # A dorian: F sharp, as G major


def test_ties_merge_grace_notes_and_chord_symbols_are_dropped():
    abc = 'X:1\nT:T\nM:4/4\nL:1/4\nK:C\n"Am"A2- A{g}B | [CEG]4 |]\n'
    notes = pitched_notes(abc_to_score(abc, meter="4/4").score)
    assert notes["pitch"].tolist() == [69, 71, 48 + 12, 64, 67]
    assert (notes["duration"] / 480).tolist() == [3.0, 1.0, 4.0, 4.0, 4.0]


def test_skipping_beams_changes_no_note():
    from music21 import converter, stream

    before = stream.Stream.makeBeams
    tunes = [t for c in ("oneills", "ryans") for t in subset(scan_collection(c), 2)]
    for tune in tunes:
        ours = pitched_notes(abc_to_score(tune.abc, meter=tune.meter).score)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            beamed = converter.parseData(tune.abc, format="abc")  # music21 as shipped
        part = beamed.parts[0]
        part.stripTies(inPlace=True)
        pitches = sorted(
            p.midi
            for n in part.flatten().notes
            if not n.duration.isGrace and n.quarterLength > 0 and type(n).__name__ != "ChordSymbol"
            for p in n.pitches
        )
        assert sorted(ours["pitch"].tolist()) == pitches, tune.source
    assert stream.Stream.makeBeams is before  # restored after every parse
    assert np.all(ours["duration"] > 0)
