"""Vocoder segments of real recordings (../shared/data/recordings): random and fixed."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic import audio
from torchmusic.data.segments import AudioSegments, FixedSegments
from torchmusic.errors import DataError, ParameterError

SR = 8000  # low rate: quick to resample and decode
SEG = 4096


@pytest.fixture(scope="module")
def recordings(shared_data: Path) -> list[Path]:
    """Three real recordings of 14-50 s (a waltz, speech, a string orchestra)."""
    names = (
        "147793__setuniman__sweet-waltz-0i-22mi.ogg",
        "198-209-0000.ogg",
        "Hungarian_Dance_number_5_string_orchestra.ogg",
    )
    paths = [shared_data / "recordings" / n for n in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"shared/data recordings missing: {missing}")
    return paths


@pytest.fixture(scope="module")
def segments(recordings, tmp_path_factory) -> AudioSegments:
    cache = tmp_path_factory.mktemp("segment-cache")
    return AudioSegments(
        recordings, segment_samples=SEG, sr=SR, segments_per_track=4, cache_dir=cache
    )


def test_random_segments_are_slices_of_the_resampled_tracks(segments, recordings):
    assert len(segments) == 12 and segments.failed == []
    item = segments[5]
    assert item["track_index"] == 1
    assert item["waveform"].shape == (SEG,) and item["waveform"].dtype == torch.float32
    full, _ = audio.load(recordings[1], sr=SR)
    assert segments.lengths[1] == full.numel()
    start = item["start"]
    assert torch.equal(item["waveform"], full[start : start + SEG])


def test_segments_depend_on_seed_and_epoch_only(segments, recordings):
    first = [segments[i]["start"] for i in range(len(segments))]
    assert first == [segments[i]["start"] for i in range(len(segments))]
    segments.set_epoch(1)
    assert first != [segments[i]["start"] for i in range(len(segments))]
    segments.set_epoch(0)
    again = AudioSegments(recordings, segment_samples=SEG, sr=SR, segments_per_track=4)
    assert first == [again[i]["start"] for i in range(len(again))]  # no cache, same draws
    assert torch.equal(segments[-1]["waveform"], again[11]["waveform"])


def test_the_cache_is_reused_without_decoding(segments, recordings, monkeypatch):
    files = sorted(segments.cache_dir.glob("*.npy"))
    assert len(files) == 3
    monkeypatch.setattr(audio, "load", lambda *a, **k: pytest.fail("decoded again"))
    cached = AudioSegments(
        recordings, segment_samples=SEG, sr=SR, segments_per_track=4, cache_dir=segments.cache_dir
    )
    assert torch.equal(cached[7]["waveform"], segments[7]["waveform"])
    # Workers receive cache file names, not the audio.
    assert len(pickle.dumps(cached)) < 10_000
    assert torch.equal(pickle.loads(pickle.dumps(cached))[7]["waveform"], segments[7]["waveform"])


def test_fixed_segments_are_evenly_spaced_and_whole(recordings):
    hop = SEG // 2
    fixed = FixedSegments(recordings[:2], segment_samples=SEG, hop_samples=hop, sr=SR)
    per_track = [1 + (n - SEG) // hop for n in fixed.lengths]
    assert len(fixed) == sum(per_track)
    starts = [s for t, s in fixed.segments if t == 0]
    assert starts == [k * hop for k in range(per_track[0])]
    last = fixed[len(fixed) - 1]
    assert last["track_index"] == 1 and last["segment_index"] == per_track[1] - 1
    assert last["start"] + SEG <= fixed.lengths[1]
    loader = torch.utils.data.DataLoader(fixed, batch_size=8)
    assert next(iter(loader))["waveform"].shape == (8, SEG)


def test_short_tracks_are_padded_and_silence_is_redrawn(tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, 0.5 * np.ones(1000), SR)
    quiet = tmp_path / "mostly-silent.wav"
    y = np.zeros(SR * 20)
    y[-3 * SR :] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * SR) / SR)  # the last 3 s only
    sf.write(quiet, y, SR)
    ds = AudioSegments(
        [short, quiet], segment_samples=SEG, sr=SR, segments_per_track=40, redraws=50
    )
    item = ds[0]
    assert item["start"] == 0 and torch.all(item["waveform"][:1000] == 0.5)
    assert torch.all(item["waveform"][1000:] == 0)
    # A random start hits the tone 18 times in 100; 51 draws miss it with p = 4e-5.
    loud = [float(ds[i]["waveform"].square().mean().sqrt()) >= 1e-4 for i in range(40, 80)]
    assert all(loud)
    never = AudioSegments([quiet], segment_samples=SEG, sr=SR, segments_per_track=40, redraws=0)
    assert sum(float(never[i]["waveform"].abs().max()) > 0 for i in range(40)) < 20


def test_stereo_items_always_have_two_channels(recordings):
    ds = AudioSegments(recordings[:1], segment_samples=SEG, sr=SR, mono=False)  # a mono file
    assert ds[0]["waveform"].shape == (2, SEG)
    assert torch.equal(ds[0]["waveform"][0], ds[0]["waveform"][1])


def test_unreadable_files_are_listed_not_fatal(recordings, tmp_path):
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(b"OggS not really")
    ds = FixedSegments(
        [broken, recordings[1], tmp_path / "missing.ogg"],
        segment_samples=SEG,
        hop_samples=SEG,
        sr=SR,
    )
    assert ds.paths == [recordings[1]]
    assert [f.path.name for f in ds.failed] == ["broken.ogg", "missing.ogg"]
    assert all(f.error for f in ds.failed)
    with pytest.raises(DataError, match="no decodable audio"):
        AudioSegments([broken], segment_samples=SEG, sr=SR)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"segment_samples": 0}, "segment_samples=0"),
        ({"segment_samples": SEG, "sr": -1}, "sr=-1"),
        ({"segment_samples": SEG, "seed": -2}, "seed=-2"),
        ({"segment_samples": SEG, "segments_per_track": 1.5}, "segments_per_track=1.5"),
        ({"segment_samples": SEG, "redraws": -1}, "redraws=-1"),
    ],
)
def test_bad_settings_are_echoed(kwargs, match, tmp_path):
    with pytest.raises(ParameterError, match=match):
        AudioSegments([tmp_path / "x.wav"], **kwargs)


def test_a_single_path_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="single path"):
        FixedSegments(str(tmp_path / "x.wav"), segment_samples=SEG, hop_samples=SEG, sr=SR)
