"""Shared fixtures: a default tokenizer, a tiny folk corpus, MIDI-file writers."""

from __future__ import annotations

from pathlib import Path

import pytest
import symusic

from torchmusic.symbolic import build_folk_corpus, build_tokenizer, notes_to_score, write_midi


@pytest.fixture(scope="session")
def tok():
    return build_tokenizer()


@pytest.fixture(scope="session")
def folk_dir(tmp_path_factory) -> Path:
    """Three tunes of each collection (12 tunes, a couple of seconds), in process."""
    out = tmp_path_factory.mktemp("folk")
    build_folk_corpus(out, limit=3, workers=1, progress=False)
    return out


def melody(pitches=(60, 62, 64, 65, 67), *, step=0.5, **kwargs) -> symusic.Score:
    """A one-track score of equal notes ``step`` quarter notes apart."""
    onsets = [i * step for i in range(len(pitches))]
    return notes_to_score(onsets, [step] * len(pitches), list(pitches), **kwargs)


def drums_only(tpq: int = 480) -> symusic.Score:
    score = symusic.Score(tpq)
    track = symusic.Track(name="kit", program=0, is_drum=True)
    for i in range(4):
        track.notes.append(symusic.Note(i * tpq, tpq // 2, 36 + 2 * (i % 2), 100))
    score.tracks.append(track)
    return score


@pytest.fixture(name="melody")
def _melody_fixture():
    return melody


@pytest.fixture(name="drums_only")
def _drums_fixture():
    return drums_only


@pytest.fixture
def midi_folder(tmp_path) -> Path:
    """Three good MIDI files (one nested, one .MIDI) and four bad ones."""
    root = tmp_path / "midi"
    write_midi(melody(), root / "a.mid")
    write_midi(melody((67, 69, 71, 72), time_signature=(3, 4)), root / "sub" / "b.MIDI")
    write_midi(melody((48, 52, 55, 60, 64, 67, 72)), root / "sub" / "c.mid")
    (root / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage, not MIDI")
    (root / "empty.mid").write_bytes(b"")
    write_midi(drums_only(), root / "drums.mid")
    write_midi(symusic.Score(480), root / "silent.mid")
    (root / "notes.txt").write_text("not a MIDI file, ignored")
    return root
