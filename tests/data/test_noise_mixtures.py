"""Noise sources (real files, seeded generators) and noisy / clean mixtures for denoisers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import signal

from torchmusic.data import noise as N
from torchmusic.data.mixtures import (
    MixtureDataset,
    fit_length,
    mix_at_snr,
    scale_to_snr,
    tiny_fixture,
)
from torchmusic.errors import DataError, ParameterError

SR = 16000


def snr_of(clean, noisy) -> float:
    c = torch.as_tensor(clean).double()
    n = torch.as_tensor(noisy).double() - c
    return float(10 * torch.log10(c.square().sum() / n.square().sum()))


@pytest.fixture(scope="module")
def fixture_files(tmp_path_factory) -> dict[str, list[Path]]:
    return tiny_fixture(tmp_path_factory.mktemp("fixture"), sr=SR)


# -- mixing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_mix_at_snr_gives_the_asked_snr(snr_db):
    rng = np.random.default_rng(0)
    clean = (0.3 * np.sin(np.arange(12000) / 7)).astype(np.float32)
    short_noise = rng.standard_normal(5000).astype(np.float32)  # looped
    long_noise = torch.from_numpy(rng.standard_normal(40000))  # cropped, other type
    for noise in (short_noise, long_noise):
        noisy = mix_at_snr(clean, noise, snr_db)
        assert isinstance(noisy, np.ndarray) and noisy.dtype == np.float32
        assert abs(snr_of(clean, noisy) - snr_db) < 0.01
    stereo = torch.from_numpy(rng.standard_normal((2, 9000))).float()
    noisy = mix_at_snr(stereo, short_noise, snr_db)  # mono noise on both channels
    assert noisy.shape == stereo.shape and noisy.dtype == torch.float32
    assert abs(snr_of(stereo, noisy) - snr_db) < 0.01
    assert torch.allclose(noisy[0] - stereo[0], noisy[1] - stereo[1], atol=1e-6)


def test_fit_length_loops_and_crops_from_an_offset():
    assert fit_length(np.arange(4.0), 6, offset=3).tolist() == [3, 0, 1, 2, 3, 0]
    t = fit_length(torch.arange(10.0).reshape(2, 5), 3, offset=1)
    assert t.tolist() == [[1, 2, 3], [6, 7, 8]]


def test_scale_to_snr_refuses_what_has_no_snr():
    ones = np.ones(8)
    with pytest.raises(ParameterError, match="clean is silent"):
        scale_to_snr(np.zeros(8), ones, 0.0)
    with pytest.raises(ParameterError, match="noise is silent"):
        scale_to_snr(ones, np.zeros(8), 0.0)
    with pytest.raises(ParameterError, match="NaN"):
        scale_to_snr(ones, np.array([1.0] * 7 + [np.nan]), 0.0)
    with pytest.raises(ParameterError, match="does not fit"):
        scale_to_snr(ones, np.ones(7), 0.0)
    with pytest.raises(ParameterError, match="snr_db=inf"):
        scale_to_snr(ones, ones, float("inf"))
    with pytest.raises(ParameterError, match="dtype int64"):
        mix_at_snr(np.ones(8, dtype=np.int64), ones, 0.0)


# -- generators -------------------------------------------------------------------------------


def test_every_generator_is_seeded_unit_rms_float32():
    for kind in N.SYNTHETIC_KINDS:
        a = N.random_noise(kind, SR, SR, rng=7)
        assert a.dtype == np.float32 and a.shape == (SR,)
        assert abs(float(np.mean(a.astype(np.float64) ** 2)) - 1) < 1e-4, kind
        assert np.array_equal(a, N.random_noise(kind, SR, SR, rng=7)), kind
        assert not np.array_equal(a, N.random_noise(kind, SR, SR, rng=8)), kind
    gen = np.random.default_rng(3)
    assert N.coloured_hiss(100, SR, rng=gen).shape == (100,)  # a Generator works too
    with pytest.raises(ParameterError, match="kind='rain'"):
        N.random_noise("rain", 10, SR)


def test_mains_hum_has_its_energy_at_f0_and_harmonics():
    y = N.mains_hum(4 * SR, SR, f0=60.0, harmonics=4, drift=0.0, rng=0).astype(np.float64)
    power = np.abs(np.fft.rfft(y * np.hanning(y.size))) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / SR)
    bands = [power[np.abs(freqs - 60 * k) < 2].sum() for k in range(1, 5)]
    assert sum(bands) > 0.999 * power.sum()
    assert np.allclose(np.sqrt(np.array(bands) / bands[0]), [1, 1 / 2, 1 / 3, 1 / 4], rtol=0.02)
    # Drift moves the frequency, within +-drift, slowly (50 Hz +- 0.5 Hz here).
    drifting = N.mains_hum(8 * SR, SR, f0=50.0, harmonics=1, drift=0.01, rng=1)
    analytic = signal.hilbert(drifting.astype(np.float64))
    inst = np.diff(np.unwrap(np.angle(analytic)))[SR:-SR] * SR / (2 * np.pi)
    assert np.all(np.abs(inst - 50) < 0.55) and np.ptp(inst) > 0.2


def test_vinyl_click_count_follows_the_rate_and_widths_stay_short():
    seconds, rate = 20, 5.0
    y, onsets = N.vinyl_clicks(
        seconds * SR, SR, rate_per_s=rate, thump_probability=0.0, rng=2, return_onsets=True
    )
    expected = rate * seconds  # Poisson: sd 10
    assert abs(len(onsets) - expected) < 4 * np.sqrt(expected)
    # Every click is a separate burst of non-zero samples no longer than 2 ms.
    active = np.flatnonzero(y)
    bursts = np.split(active, np.flatnonzero(np.diff(active) > 1) + 1)
    assert len(bursts) >= 0.95 * len(onsets)  # a few may overlap
    assert max(len(b) for b in bursts) <= 2 * round(0.002 * SR)
    assert set(onsets.tolist()) >= {int(b[0]) for b in bursts}


@pytest.mark.parametrize("slope", [-3.0, 0.0, 1.5])
def test_coloured_hiss_has_the_asked_slope(slope):
    y = N.coloured_hiss(8 * SR, SR, slope_db_per_octave=slope, rng=4)
    freqs, psd = signal.welch(y.astype(np.float64), SR, nperseg=1024)
    band = (freqs > 100) & (freqs < 7000)
    fitted = np.polyfit(np.log2(freqs[band]), 10 * np.log10(psd[band]), 1)[0]
    assert abs(fitted - slope) < 0.3


def test_crackle_is_impulsive():
    y = N.crackle(4 * SR, SR, rate_per_s=200, rng=5).astype(np.float64)
    kurtosis = np.mean(y**4) / np.mean(y**2) ** 2
    assert kurtosis > 20  # Gaussian noise: 3


def test_textured_noise_has_its_bump_wander_and_grains():
    flat = N.textured_noise(8 * SR, SR, tilt_db_per_octave=0.0, rng=6)
    bumped = N.textured_noise(
        8 * SR, SR, tilt_db_per_octave=0.0, bumps=[(1000.0, 0.3, 12.0)], rng=6
    )
    freqs, p_flat = signal.welch(flat.astype(np.float64), SR, nperseg=1024)
    _, p_bump = signal.welch(bumped.astype(np.float64), SR, nperseg=1024)
    at = lambda p, f: 10 * np.log10(p[np.argmin(np.abs(freqs - f))])  # noqa: E731
    # Same noise, so the ratio shows the bump: +12 dB at its centre, ~0 two octaves away.
    rel = lambda f: at(p_bump, f) - at(p_flat, f)  # noqa: E731
    assert abs((rel(1000) - rel(4000)) - 12) < 1.5 and abs(rel(4000) - rel(5000)) < 1.0

    # Level wander: 100 ms levels spread by about modulation_db; none without it.
    def spread(y):
        frames = y[: y.size // 2205 * 2205].astype(np.float64).reshape(-1, 2205)
        return float(np.std(10 * np.log10(np.mean(frames**2, axis=1))))

    wandering = N.textured_noise(8 * SR, SR, modulation_db=6.0, modulation_s=0.5, rng=7)
    assert spread(flat) < 1.0 and 3.0 < spread(wandering) < 9.0
    grains = N.textured_noise(4 * SR, SR, grains_per_s=20.0, grain_ms=5.0, rng=8).astype(np.float64)
    assert np.mean(grains**4) / np.mean(grains**2) ** 2 > 6  # Gaussian noise: 3 (measured 11)
    with pytest.raises(ParameterError, match="tilt_db_per_octave=20"):
        N.textured_noise(10, SR, tilt_db_per_octave=20)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_band_noise_is_confined_to_one_band(seed):
    y = N.random_noise("band", 4 * SR, SR, rng=seed).astype(np.float64)
    assert abs(np.sqrt(np.mean(y**2)) - 1) < 1e-3
    freqs, psd = signal.welch(y, SR, nperseg=2048)
    peak = freqs[np.argmax(psd)]
    near = (freqs > peak / 2.5) & (freqs < peak * 2.5)  # 1.3 octaves each side
    assert psd[near].sum() / psd.sum() > 0.9  # white noise: a fraction of that
    assert np.array_equal(y, N.random_noise("band", 4 * SR, SR, rng=seed))


# -- real noise files -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_noise(shared_data) -> list[N.NoiseFile]:
    root = shared_data / "noise"
    if not root.is_dir():
        pytest.skip(f"shared/data noise folder missing: {root}")
    return N.noise_files(root)


def test_noise_files_name_their_kinds(shared_noise):
    assert sorted(f.kind for f in shared_noise) == [
        "cat", "dishes", "exercise_bike", "pink", "running_tap", "white",
    ]  # fmt: skip
    assert all(f.path.suffix == ".wav" for f in shared_noise)


def test_split_keeps_files_apart_and_the_unseen_kind_out(shared_noise):
    splits = [N.split_noise_files(shared_noise, seed=s) for s in range(6)]
    for split in splits:
        paths = [f.path for part in split.values() for f in part]
        assert sorted(paths) == sorted(f.path for f in shared_noise)  # each file once
        assert [f.kind for f in split["unseen"]] == ["running_tap"]
        assert "running_tap" not in {f.kind for f in split["train"] + split["valid"]}
        assert len(split["valid"]) == 1 and len(split["train"]) == 4
    assert splits[0] == N.split_noise_files(shared_noise, seed=0)
    assert len({split["valid"][0].path for split in splits}) > 1  # the seed matters
    two = N.split_noise_files(shared_noise, unseen=("running_tap", "cat"), valid_fraction=0)
    assert {f.kind for f in two["unseen"]} == {"running_tap", "cat"} and two["valid"] == []
    with pytest.raises(ParameterError, match="no file of kind"):
        N.split_noise_files(shared_noise, unseen=("rain",))


def test_fixture_files_have_kinds_and_split(fixture_files):
    assert [p.name for p in fixture_files["clean"]] == [
        "tone_a4.wav", "chord_c_major.wav", "arpeggio_a_minor.wav",
    ]  # fmt: skip
    root = fixture_files["noise"][0].parent
    files = N.noise_files(root)
    assert {f.kind for f in files} == {"white", "hiss", "hum", "clicks", "crackle"}
    split = N.split_noise_files(files, unseen=("hum",), seed=1)
    assert [f.kind for f in split["unseen"]] == ["hum"] and len(split["train"]) == 3
    assert N.kind_of("cafe_02.wav") == "cafe"


# -- dataset ----------------------------------------------------------------------------------


def _dataset(fixture_files, **kwargs) -> MixtureDataset:
    settings = dict(sr=SR, segment_samples=6000, seed=0, items_per_track=4)
    return MixtureDataset(
        fixture_files["clean"], [*fixture_files["noise"], "hum", "clicks"], **(settings | kwargs)
    )


def test_dataset_items_have_the_drawn_snr(fixture_files):
    ds = _dataset(fixture_files)
    assert len(ds) == 12 and ds.kinds[-2:] == ["hum", "clicks"]
    kinds = set()
    for i in range(len(ds)):
        item = ds[i]
        assert item["noisy"].shape == item["clean"].shape == (6000,)
        assert item["noisy"].dtype == torch.float32
        assert -5 <= item["snr_db"] <= 20 and item["gain_db"] <= 0
        assert abs(snr_of(item["clean"], item["noisy"]) - item["snr_db"]) < 0.01
        assert max(item["noisy"].abs().max(), item["clean"].abs().max()) <= 0.99 + 1e-6
        kinds.add(item["noise_kind"])
    assert len(kinds) >= 4


def test_dataset_is_seeded_by_seed_epoch_and_index(fixture_files):
    a, b = _dataset(fixture_files), _dataset(fixture_files)
    first = [a[i] for i in (0, 5)]
    for x, y in zip(first, [b[i] for i in (0, 5)], strict=True):
        assert torch.equal(x["noisy"], y["noisy"]) and x["snr_db"] == y["snr_db"]
    a.set_epoch(1)
    assert not torch.equal(a[0]["noisy"], first[0]["noisy"])
    a.set_epoch(0)
    assert torch.equal(a[5]["noisy"], first[1]["noisy"])
    c = _dataset(fixture_files, seed=1)
    assert c[0]["snr_db"] != first[0]["snr_db"]


def test_shared_gain_avoids_clipping_and_keeps_the_snr(fixture_files):
    ds = _dataset(fixture_files, gain_db_range=(20, 20), snr_range=(-5, -5), mono=False)
    item = ds[3]
    assert item["noisy"].shape == (2, 6000)
    peak = max(item["noisy"].abs().max(), item["clean"].abs().max())
    assert 0.98 < peak <= 0.99 + 1e-6 and item["gain_db"] < 20
    assert abs(snr_of(item["clean"], item["noisy"]) - (-5)) < 0.01


def test_noise_weights_pick_the_sources(fixture_files):
    ds = _dataset(fixture_files, noise_weights=[0, 0, 0, 0, 0, 0, 1])
    assert {ds[i]["noise_kind"] for i in range(len(ds))} == {"clicks"}
    assert {ds[i]["noise_index"] for i in range(len(ds))} == {6}


def test_dataset_refuses_bad_settings(fixture_files, tmp_path):
    with pytest.raises(ParameterError, match="noise source 3"):
        MixtureDataset(fixture_files["clean"], [3], segment_samples=100)
    with pytest.raises(ParameterError, match="snr_range=5"):
        _dataset(fixture_files, snr_range=5)
    with pytest.raises(ParameterError, match="noise_weights"):
        _dataset(fixture_files, noise_weights=[1, 2])
    silent = tmp_path / "silence.wav"
    import soundfile as sf

    sf.write(silent, np.zeros(SR, dtype=np.float32), SR)
    with pytest.raises(DataError, match="silent"):
        MixtureDataset(fixture_files["clean"], [silent], sr=SR, segment_samples=100)


def test_dataset_mixes_real_noise_files_and_batches(fixture_files, shared_noise):
    real = [f for f in shared_noise if f.kind in ("running_tap", "exercise_bike")]
    ds = MixtureDataset(
        fixture_files["clean"], real, sr=SR, segment_samples=4000, items_per_track=2, seed=3
    )
    assert ds.kinds == ["exercise_bike", "running_tap"]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=6)))
    assert batch["noisy"].shape == (6, 4000) and len(batch["noise_kind"]) == 6
    assert set(batch["noise_kind"]) <= {"exercise_bike", "running_tap"}
    for i in range(6):
        assert abs(snr_of(batch["clean"][i], batch["noisy"][i]) - float(batch["snr_db"][i])) < 0.01
