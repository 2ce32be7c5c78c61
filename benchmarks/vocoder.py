"""Vocoder quality and speed on held-out music (issue 11, item 7).

Quality, on >= 30 segments of 5 s from test tracks of the soundtrack manifest
(tracks never used in training): log-mel L1 (dB), multi-resolution STFT distance
(spectral convergence + log magnitude) and SI-SDR of each vocoder's resynthesis
of the segment's log-mel (the toolkit's default log-mel, top_db 80), next to
Griffin-Lim (librosa's ``mel_to_audio`` of the same mel, 32 and 100 iterations)
and the oracle (the original audio through the same metrics: the floor). With
torchcrepe installed (the `bench` extra), also pitch against the original: F0 RMSE
in cents on frames voiced in both, voiced/unvoiced F1 and mean periodicity error
(CREPE tiny at 16 kHz, 10 ms hop; see ``_pitch.py``); without it those columns are
skipped (said so) and the rest runs.

``--refine 16,32`` adds rows of each model followed by that many mel-consistency
steps (:mod:`torchmusic.serve.mel_refine`).

``--diagnostics`` adds two reference rows that split the error into its two causes
(neither is a vocoder: each is given something the mel does not hold):
"true STFT magnitude + Griffin-Lim 100" (the exact linear magnitude at the mel's n_fft/hop,
phase retrieved: what losing the phase alone costs) and "mel magnitude + true phase"
(librosa's NNLS inversion of the mel with the original's phase: what losing the fine
magnitude alone costs).

Speed: real-time factor (seconds of audio per second of compute) of each model
at batch 1 (one 5 s segment) and batched (8 segments), with 1 and 2 torch
threads, plus Griffin-Lim's; weights, file size and peak RSS.

    torchmusic datasets build soundtracks --out /tmp/soundtracks
    python benchmarks/vocoder.py --manifest /tmp/soundtracks/manifest.csv \
        --model shipped=music-vocoder --model vocos-cpu=runs/voc/model.safetensors
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_OUT, held_out_segments, print_table, write_json
from _pitch import INSTALL_HINT, compare_tracks, import_torchcrepe, pitch_track

PITCH_KEYS = ("f0_rmse_cents", "vuv_f1", "periodicity_error")


def griffin_lim(mel_db: np.ndarray, feature: Any, n_iter: int) -> np.ndarray:
    """librosa's mel -> audio (NNLS mel inversion, then Griffin-Lim) with the mel's settings."""
    import librosa

    return librosa.feature.inverse.mel_to_audio(
        librosa.db_to_power(mel_db),
        **feature.stft_kwargs(),
        **_librosa_filterbank(feature),
        power=feature.power,
        n_iter=n_iter,
    )


def _librosa_filterbank(feature: Any) -> dict[str, Any]:
    """The filterbank settings librosa's mel inversions take (``n_mels`` comes from the mel)."""
    settings = feature.filterbank_kwargs()
    del settings["n_mels"]
    return settings


DIAGNOSTIC_ROWS = ("true STFT magnitude + Griffin-Lim 100", "mel magnitude + true phase")


def diagnostic_estimates(
    seg: np.ndarray, mel_db: np.ndarray, feature: Any
) -> dict[str, np.ndarray]:
    """The ``--diagnostics`` rows: phase loss alone, and fine-magnitude loss alone."""
    import librosa

    stft_kw = feature.stft_kwargs()
    pad_mode = stft_kw.pop("pad_mode")  # istft takes no pad_mode
    spec = librosa.stft(seg, pad_mode=pad_mode, **stft_kw)
    mel_mag = librosa.feature.inverse.mel_to_stft(
        librosa.db_to_power(mel_db),
        **_librosa_filterbank(feature),
        n_fft=feature.n_fft,
        power=feature.power,
    )
    return {
        DIAGNOSTIC_ROWS[0]: librosa.griffinlim(
            np.abs(spec), n_iter=100, pad_mode=pad_mode, **stft_kw
        ),
        DIAGNOSTIC_ROWS[1]: librosa.istft(mel_mag * np.exp(1j * np.angle(spec)), **stft_kw),
    }


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


def scores(reference: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    from torchmusic.metrics.audio import log_mel_l1, mr_stft_distance, si_sdr

    ref = torch.from_numpy(reference).double()
    est = torch.from_numpy(estimate).double()
    mr = mr_stft_distance(ref, est)
    return {
        "log_mel_l1_db": float(log_mel_l1(ref, est)),
        "mr_stft": float(mr["mr_stft"]),
        "spectral_convergence": float(mr["spectral_convergence"]),
        "log_magnitude": float(mr["log_magnitude"]),
        "si_sdr_db": float(si_sdr(ref, est)),
    }


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def rtf(fn, audio_seconds: float, repeats: int = 3) -> float:
    """Seconds of audio per second of compute (median of ``repeats`` after a warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return audio_seconds / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True, type=Path, help="soundtracks manifest.csv")
    parser.add_argument(
        "--model", action="append", default=[], metavar="NAME=FILE", help="vocoder(s) to score"
    )
    parser.add_argument(
        "--refine",
        default="",
        metavar="K[,K...]",
        help="also score each model followed by K mel-consistency steps (rows 'NAME +refine K')",
    )
    parser.add_argument("--segments", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--gl-iters", default="32,100")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--skip-pitch", action="store_true", help="no torchcrepe pitch columns (faster)"
    )
    parser.add_argument(
        "--diagnostics",
        action="store_true",
        help="add the 'true STFT magnitude + Griffin-Lim 100' and 'mel magnitude + true phase' rows",
    )
    parser.add_argument("--json", default=str(DEFAULT_OUT / "vocoder.json"))
    args = parser.parse_args()

    from torchmusic.features.config import FeatureConfig
    from torchmusic.serve.vocode import Vocoder

    t_start = time.perf_counter()
    crepe = None
    if args.skip_pitch:
        print("pitch columns skipped (--skip-pitch)")
    else:
        crepe = import_torchcrepe()
        if crepe is None:
            print(f"pitch columns skipped: torchcrepe is not installed; {INSTALL_HINT}")
    feature = FeatureConfig()
    vocoders = {}
    for item in args.model:
        name, _, path = item.partition("=")
        vocoders[name] = Vocoder(path or name, device=args.device)
        if vocoders[name].feature != feature:
            raise SystemExit(f"{name}: its log-mel is not the toolkit's default")
        for k in [int(k) for k in args.refine.split(",") if k]:
            vocoders[f"{name} +refine {k}"] = Vocoder(path or name, device=args.device, refine=k)
    segments, names = held_out_segments(
        args.manifest, n=args.segments, seconds=args.seconds, sr=feature.sr
    )
    print(
        f"{len(segments)} test segments of {args.seconds} s from {len(set(n.split('@')[0] for n in names))} tracks"
    )
    gl_iters = [int(i) for i in args.gl_iters.split(",") if i]
    per_row: dict[str, list[dict[str, float]]] = {"oracle (original audio)": []}
    per_row.update({f"Griffin-Lim {k}": [] for k in gl_iters})
    if args.diagnostics:
        per_row.update({row: [] for row in DIAGNOSTIC_ROWS})
    per_row.update({name: [] for name in vocoders})
    for seg in segments:
        n = len(seg)
        mel = feature.compute(torch.from_numpy(seg)).numpy()
        # The original's pitch track is computed once per segment and shared by its rows.
        ref_track = pitch_track(seg, feature.sr, crepe) if crepe is not None else None

        def score(estimate: np.ndarray, seg=seg, ref_track=ref_track) -> dict[str, float]:
            s = scores(seg, estimate)
            if ref_track is not None:
                s.update(compare_tracks(ref_track, pitch_track(estimate, feature.sr, crepe)))
            return s

        per_row["oracle (original audio)"].append(score(seg))
        for k in gl_iters:
            per_row[f"Griffin-Lim {k}"].append(score(fit_length(griffin_lim(mel, feature, k), n)))
        if args.diagnostics:
            for row, estimate in diagnostic_estimates(seg, mel, feature).items():
                per_row[row].append(score(fit_length(estimate, n)))
        for name, voc in vocoders.items():
            out = voc(torch.from_numpy(mel)).numpy()
            per_row[name].append(score(fit_length(out, n)))
    # NaN-aware means: a pitch score is NaN where a segment has nothing to score (e.g.
    # no frame voiced in both); all-NaN stays NaN.
    quality = {
        row: {k: _nanmean([s[k] for s in items]) for k in items[0]}
        for row, items in per_row.items()
    }
    gl100 = quality.get("Griffin-Lim 100")
    rows = []
    for row, q in quality.items():
        vs = ""
        if gl100 and row in vocoders:
            vs = (
                f"{100 * (q['log_mel_l1_db'] / gl100['log_mel_l1_db'] - 1):+.1f} % / "
                f"{100 * (q['mr_stft'] / gl100['mr_stft'] - 1):+.1f} %"
            )
        pitch = [q[k] for k in PITCH_KEYS] if crepe is not None else []
        rows.append(
            [
                row,
                q["log_mel_l1_db"],
                q["mr_stft"],
                q["spectral_convergence"],
                q["si_sdr_db"],
                *pitch,
                vs,
            ]
        )
    pitch_header = ["F0 RMSE (cents)", "V/UV F1", "periodicity err."] if crepe is not None else []
    tables = [
        print_table(
            f"vocoder quality: {len(segments)} held-out segments of {args.seconds:g} s (means)",
            [
                "row",
                "log-mel L1 (dB)",
                "MR-STFT",
                "spectral conv.",
                "SI-SDR (dB)",
                *pitch_header,
                "vs GL-100 (mel / MR-STFT)",
            ],
            rows,
        )
    ]
    speed: list[dict[str, Any]] = []
    if not args.skip_speed:
        seg = torch.from_numpy(segments[0])
        mel1 = feature.compute(seg)
        mel8 = feature.compute(torch.from_numpy(np.stack(segments[:8])))
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            for name, voc in vocoders.items():
                r1 = rtf(lambda voc=voc: voc(mel1), args.seconds)
                r8 = rtf(lambda voc=voc: voc(mel8), args.seconds * mel8.shape[0])
                n_params = sum(p.numel() for p in voc.net.parameters())
                speed.append(
                    {
                        "row": name,
                        "threads": threads,
                        "rtf_batch1": r1,
                        "rtf_batch8": r8,
                        "params": n_params,
                    }
                )
            if gl_iters:
                k = max(gl_iters)
                r = rtf(lambda k=k: griffin_lim(mel1.numpy(), feature, k), args.seconds, repeats=1)
                speed.append(
                    {
                        "row": f"Griffin-Lim {k}",
                        "threads": threads,
                        "rtf_batch1": r,
                        "rtf_batch8": None,
                        "params": 0,
                    }
                )
        tables.append(
            print_table(
                f"vocoder speed on {args.device} (x real time; audio seconds per compute second)",
                ["row", "threads", "batch 1", "batch 8", "weights"],
                [
                    [
                        s["row"],
                        s["threads"],
                        s["rtf_batch1"],
                        s["rtf_batch8"] or "-",
                        f"{s['params']:,}",
                    ]
                    for s in speed
                ],
            )
        )
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS of this process: {peak_rss_mb:.0f} MB; wall {time.perf_counter() - t_start:.0f} s"
    )
    write_json(
        args.json,
        {
            "command": "python " + " ".join(sys.argv),
            "segments": names,
            "quality": quality,
            "pitch": "torchcrepe tiny, 16 kHz, 10 ms hop, periodicity >= 0.21"
            if crepe is not None
            else None,
            "speed": speed,
            "peak_rss_mb": peak_rss_mb,
            "tables": tables,
            "models": {
                n: {"path": v.path, "architecture": v.spec.architecture, "metrics": v.spec.metrics}
                for n, v in vocoders.items()
            },
        },
    )


if __name__ == "__main__":
    main()
