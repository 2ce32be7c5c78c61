"""Log-mel of 30 s clips, torchmusic vs librosa, at batch 1, 16 and 64.

Run: ``python benchmarks/features_logmel.py [--out bench_out/features_logmel.json]``

librosa is timed two ways, both on the same clips: a loop over clips (how it is
normally used) and one call on the stacked ``(batch, samples)`` array (librosa also
accepts batches); the ratio is taken against the faster of the two. torchmusic runs on
CPU with torch's default thread count in both FFT precisions ("exact", the default:
float64 FFT like librosa; "native": float32 FFT, see ``fft_precision``), and on CUDA when a GPU is present (with
synchronisation, inputs already on the device).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from _common import DEFAULT_OUT, SHARED_DATA, interleaved_medians, print_table, write_json

SR = 22050
CLIP_SECONDS = 30


def real_clips(n: int) -> np.ndarray:
    """``n`` 30 s clips cut from the real recordings (tiled when too few), float32."""
    import soundfile as sf

    pieces = []
    files = sorted((SHARED_DATA / "recordings").glob("*.ogg"))
    length = SR * CLIP_SECONDS
    for path in files:
        y, sr = sf.read(path, dtype="float32", always_2d=True)
        y = y.mean(axis=1)
        if sr != SR:
            continue
        for start in range(0, len(y) - length + 1, length):
            pieces.append(y[start : start + length])
    if not pieces:  # no shared data: seeded noise is still a fair speed test
        rng = np.random.default_rng(0)
        pieces = [rng.standard_normal(length).astype(np.float32) * 0.1]
    return np.stack([pieces[i % len(pieces)] for i in range(n)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT / "features_logmel.json")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    args = parser.parse_args()

    import librosa

    from torchmusic.features import LogMelSpectrogram, fft_precision

    clips = real_clips(max(args.batches))
    module = LogMelSpectrogram(sr=SR)
    cuda = torch.cuda.is_available()
    rows, results = [], []
    for batch in args.batches:
        x_np = clips[:batch]
        x_cpu = torch.from_numpy(x_np)

        def tm_cpu(x=x_cpu):
            with torch.inference_mode():
                return module(x)

        def tm_cpu_native(x=x_cpu):
            with torch.inference_mode(), fft_precision("native"):
                return module(x)

        def lr_loop(x=x_np):
            return [librosa.power_to_db(librosa.feature.melspectrogram(y=c, sr=SR)) for c in x]

        def lr_batch(x=x_np):
            # librosa's top_db is relative to the max of the whole array, so a batched call
            # is only equivalent for batch 1; it is timed here as librosa's fastest path.
            return librosa.power_to_db(librosa.feature.melspectrogram(y=x, sr=SR))

        contenders = {
            "torchmusic_cpu": tm_cpu,
            "torchmusic_cpu_native": tm_cpu_native,
            "librosa_loop": lr_loop,
            "librosa_batched": lr_batch,
        }
        if cuda:
            x_gpu = x_cpu.cuda()
            gpu_module = LogMelSpectrogram(sr=SR).cuda()

            def tm_gpu(x=x_gpu, m=gpu_module):
                with torch.inference_mode():
                    out = m(x)
                torch.cuda.synchronize()
                return out

            contenders["torchmusic_cuda"] = tm_gpu
        med = interleaved_medians(contenders, repeats=args.repeats)
        per_clip = {k: v / batch * 1e3 for k, v in med.items()}
        librosa_best = min(per_clip["librosa_loop"], per_clip["librosa_batched"])
        row = {
            "batch": batch,
            "ms_per_clip": per_clip,
            "speedup_cpu": librosa_best / per_clip["torchmusic_cpu"],
            "speedup_cpu_native": librosa_best / per_clip["torchmusic_cpu_native"],
            "speedup_cuda": librosa_best / per_clip["torchmusic_cuda"] if cuda else None,
        }
        results.append(row)
        rows.append(
            [
                batch,
                per_clip["librosa_loop"],
                per_clip["librosa_batched"],
                per_clip["torchmusic_cpu"],
                row["speedup_cpu"],
                per_clip["torchmusic_cpu_native"],
                row["speedup_cpu_native"],
                per_clip.get("torchmusic_cuda", "n/a"),
                row["speedup_cuda"] if cuda else "n/a",
            ]
        )
    print_table(
        f"log-mel of {CLIP_SECONDS} s clips (ms per clip; speedup vs librosa's faster path)",
        [
            "batch",
            "librosa loop",
            "librosa batched",
            "torchmusic CPU (exact)",
            "speedup",
            "torchmusic CPU (native fft)",
            "speedup",
            "torchmusic CUDA",
            "CUDA speedup",
        ],
        rows,
    )
    write_json(args.out, {"benchmark": "features_logmel", "results": results})


if __name__ == "__main__":
    main()
