"""Objective stand-ins for listening (nobody can listen here): on 3 held-out clips,
dullness (energy above 4 kHz, output vs clean), pumping (std of the 100 ms gain of
output vs clean, dB), musical noise (log kurtosis ratio of the residual noise's power
spectra vs the input noise's; > 0 means more isolated peaks = musical noise)."""

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import held_out_segments
from torchmusic.audio import load
from torchmusic.data.mixtures import mix_at_snr
from torchmusic.data.noise import random_noise
from torchmusic.metrics.audio import si_sdr
from torchmusic.serve.denoise import Denoiser

SR = 22050
ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--manifest", required=True)
ap.add_argument("--model", default="music-denoiser")
ap.add_argument(
    "--rain", required=True, help="an unseen rain recording, e.g. openclonk StereoRain as WAV"
)
ap.add_argument("--out", default="bench_out/denoise-listening")
args = ap.parse_args()
model = args.model
den = Denoiser(model)
segs, names = held_out_segments(Path(args.manifest), n=12, seconds=5.0, sr=SR)
tap, _ = load(
    Path(__file__).resolve().parents[2]
    / "shared/data/noise/speech_commands_background/running_tap.wav",
    sr=SR,
)
rain, _ = load(args.rain, sr=SR)
cases = [
    (segs[0], names[0], tap.numpy()[SR * 10 :], "running_tap (unseen)", 5.0),
    (segs[5], names[5], rain.numpy()[SR * 5 :], "rain_01 (unseen)", 5.0),
    (segs[9], names[9], random_noise("hiss", 5 * SR, SR, rng=3), "tape hiss (seen kind)", 10.0),
]


def spec(x):
    return (
        torch.stft(
            torch.from_numpy(np.asarray(x, np.float64)),
            1024,
            256,
            window=torch.hann_window(1024, dtype=torch.float64),
            return_complex=True,
        )
        .abs()
        .numpy()
        ** 2
    )


def frame_rms(x, k, fr):
    return np.sqrt(np.mean(x[: k * fr].reshape(k, fr) ** 2, 1)) + 1e-9


def kurt(p):
    m = p.mean(1, keepdims=True)
    v = ((p - m) ** 2).mean(1)
    k = ((p - m) ** 4).mean(1) / np.maximum(v, 1e-30) ** 2
    return float(np.median(k))


out_dir = Path(args.out)
out_dir.mkdir(exist_ok=True, parents=True)
for i, (clean, name, noise, what, snr) in enumerate(cases):
    clean = clean.astype(np.float32)
    noisy = mix_at_snr(clean, noise[: len(clean)], snr)
    out = np.asarray(den(noisy, SR), np.float32)
    sf.write(out_dir / f"{i}-noisy.wav", noisy, SR)
    sf.write(out_dir / f"{i}-denoised.wav", out, SR)
    f = np.fft.rfftfreq(1024, 1 / SR)
    hi = f > 4000
    dull = 10 * np.log10(spec(out)[hi].sum() / spec(clean)[hi].sum())
    fr = int(0.1 * SR)
    k = len(clean) // fr
    loud = frame_rms(clean, k, fr) > 0.1 * frame_rms(clean, k, fr).max()
    gain = 20 * np.log10(frame_rms(out, k, fr) / frame_rms(clean, k, fr))[loud]
    lkr = np.log(kurt(spec(out - clean)) / kurt(spec(noisy - clean)))
    print(
        f"{name} + {what} at {snr:g} dB: SI-SDR {si_sdr(clean, noisy):.1f} -> {si_sdr(clean, out):.1f} dB; "
        f"HF (>4 kHz) {dull:+.1f} dB vs clean; gain std {gain.std():.2f} dB over 100 ms frames (mean {gain.mean():+.2f}); "
        f"log kurtosis ratio of the residual {lkr:+.2f}"
    )
