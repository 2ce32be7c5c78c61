"""Drum-hit GANs judged by the shipped ``drums`` classifier (issue 13, item 5).

Sets of one-shot hits, each prepared as GAN training prepares its clips (cut at the
onset, the model's length, peak 0.95), are scored by:

- **inception score** ``exp(E_x KL(p(y|x) || p(y)))`` with the shipped ``drums``
  classifier (8 classes, so at most 8);
- **label accuracy**: the classifier's top-1 agrees with the requested label
  (real sets: with the true label); unconditional models: the class histogram;
- **Fréchet distance on the drums classifier's penultimate-layer embeddings**
  (the input of its output layer) against the real held-out hits. It is *not*
  FAD: the embedding is our drum classifier's, not VGGish;
- **diversity**: median log-mel distance (as below) between two hits of one class
  (requested class; unconditional models: the predicted one), beside the real
  held-out hits' (a generator that ignores its latent scores 0);
- **memorisation**: each hit's nearest-neighbour distance to the GAN's training
  hits (RMS difference in dB of their log-mels, floored at -60 dB), as a ratio to
  the same distance for real held-out hits (median / median), and the fraction of
  hits closer than the 5th percentile of the held-out distances. A ratio far
  below 1 is copying, not success.

Rows: the real training hits and the real held-out hits (the ceiling; the held-out
kits are the manifest's non-``train`` rows, which GAN training never reads), a
**copy control** (training hits presented as generated: it must fail the
memorisation check), a **noise-burst baseline** (white noise shaped by each
class's mean spectrum times a random smooth filter, and an exponential decay with
the class's median decay time, jittered), and every ``--model``, sampled with
each of ``--seeds`` (mean ± std over seeds).

Caveat: the shipped ``drums`` classifier was trained on every kit but one
(``LICENSES-drums.md``), so it has heard the held-out kits: the held-out row's
accuracy is optimistic, which makes the ceiling higher, not lower.

    torchmusic datasets build drums --out /tmp/drums
    python benchmarks/drum_gan.py --manifest /tmp/drums/drums/drums_fold0.csv \
        --model drum-gan --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_OUT, print_table, write_json

FLOOR_DB = -60.0  # log-mel floor of the memorisation distance (silence ties, not drifts)
NN_PERCENTILE = 5.0


# -- real hits ----------------------------------------------------------------------------
def read_manifest(path: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(train, held_out)`` lists of ``(path, label)``; duplicates of a path kept once."""
    rows = list(csv.DictReader(path.open(newline="")))
    if not rows or "path" not in rows[0] or "label" not in rows[0]:
        raise SystemExit(f"{path}: expected a manifest with path and label columns")
    if "split" not in rows[0]:
        raise SystemExit(f"{path}: expected a split column (train rows vs held-out kits)")
    train: dict[str, str] = {}
    held: dict[str, str] = {}
    for row in rows:
        full = str((path.parent / row["path"]).resolve())
        (train if row["split"] == "train" else held)[full] = row["label"]
    return sorted(train.items()), sorted(held.items())


def load_clips(
    items: list[tuple[str, str]], *, length: int, sr: int
) -> tuple[torch.Tensor, list[str]]:
    """Clips cut and scaled as GAN training does (``fit_clip``); unusable files skipped."""
    from torchmusic import audio
    from torchmusic.training.gan.data import fit_clip

    clips, labels = [], []
    for path, label in items:
        try:
            y, _ = audio.load(path, sr=sr, mono=True)
            clips.append(fit_clip(y, length, sr=sr)[0])
            labels.append(label)
        except Exception as exc:  # a benchmark reports and goes on
            print(f"skipped {path}: {exc}")
    return torch.stack(clips), labels


# -- the judge ----------------------------------------------------------------------------
class Judge:
    """The shipped ``drums`` classifier: probabilities and penultimate embeddings."""

    def __init__(self, model: str = "drums") -> None:
        from torchmusic.serve.predict import Predictor

        self.predictor = Predictor(model)
        self.labels = self.predictor.labels
        self.sr = self.predictor.feature.sr
        linears = [m for m in self.predictor.model.modules() if isinstance(m, torch.nn.Linear)]
        self._captured: list[torch.Tensor] = []
        linears[-1].register_forward_pre_hook(lambda _m, a: self._captured.append(a[0]))

    def __call__(self, clips: torch.Tensor, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """``(probs (n, 8), embeddings (n, d))`` of the first classifier window of each clip."""
        import soxr

        windows = []
        for clip in clips:
            y = clip.numpy()
            if sr != self.sr:
                y = soxr.resample(y, sr, self.sr)
            w, _ = self.predictor.window_features(torch.from_numpy(np.ascontiguousarray(y)))
            windows.append(w[:1])
        self._captured.clear()
        probs = self.predictor.predict_windows(torch.cat(windows)).numpy()
        emb = torch.cat([c.flatten(1) for c in self._captured]).cpu().numpy()
        return probs, emb


def inception_score(probs: np.ndarray) -> float:
    eps = 1e-12
    marginal = probs.mean(axis=0, keepdims=True)
    kl = (probs * (np.log(probs + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


# -- memorisation -------------------------------------------------------------------------
def logmels(clips: torch.Tensor, sr: int) -> torch.Tensor:
    from torchmusic.features.config import FeatureConfig

    mel = FeatureConfig(kind="logmel", sr=sr).compute(clips.float())
    return mel.clamp(min=FLOOR_DB).flatten(1)


def diversity(mel: torch.Tensor, labels: list[str]) -> float:
    """Median RMS dB distance between two hits of the same class (0: one sound per class)."""
    out = []
    for cls in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == cls]
        if len(idx) > 1:
            d = torch.cdist(mel[idx].double(), mel[idx].double()) / np.sqrt(mel.shape[1])
            out.append(d[torch.triu_indices(len(idx), len(idx), 1).unbind()].numpy())
    return float(np.median(np.concatenate(out))) if out else float("nan")


def nn_distances(query: torch.Tensor, train: torch.Tensor) -> np.ndarray:
    """RMS dB difference of each query log-mel to its nearest training log-mel."""
    d = torch.cdist(query.double(), train.double()) / np.sqrt(query.shape[1])
    return d.min(dim=1).values.numpy()


# -- the noise-burst baseline -------------------------------------------------------------
def decay_seconds(clip: np.ndarray, sr: int) -> float:
    """Time for the 10 ms RMS envelope to fall 60 dB below its peak (capped at the clip)."""
    frame = max(1, sr // 100)
    n = len(clip) // frame
    rms = np.sqrt((clip[: n * frame].reshape(n, frame) ** 2).mean(1) + 1e-12)
    db = 20 * np.log10(rms / rms.max())
    peak = int(db.argmax())
    below = np.nonzero(db[peak:] < -60)[0]
    return ((below[0] if below.size else n - peak) * frame) / sr


def noise_bursts(
    train: torch.Tensor, labels: list[str], classes: list[str], *, n: int, sr: int, seed: int
) -> tuple[torch.Tensor, list[str]]:
    """``n`` bursts per class: class-mean spectrum x random smooth filter, exponential decay."""
    rng = np.random.default_rng(seed)
    length = train.shape[1]
    freqs = np.fft.rfftfreq(length, 1 / sr)
    out, out_labels = [], []
    for cls in classes:
        members = train[[i for i, lab in enumerate(labels) if lab == cls]].numpy()
        spectrum = np.sqrt((np.abs(np.fft.rfft(members, axis=1)) ** 2).mean(0))
        # Smooth the class spectrum over ~1/6 octave so bursts do not inherit one hit's partials.
        kernel = np.hanning(31) / np.hanning(31).sum()
        spectrum = np.convolve(spectrum, kernel, mode="same")
        t60 = float(np.median([decay_seconds(m, sr) for m in members]))
        t = np.arange(length) / sr
        for _ in range(n):
            # Random filter: +-6 dB over 8 random log-spaced bands, interpolated.
            knots = np.geomspace(20, sr / 2, 8)
            gain_db = rng.uniform(-6, 6, size=8)
            gain = 10 ** (np.interp(np.log(freqs + 1), np.log(knots), gain_db) / 20)
            phase = np.exp(2j * np.pi * rng.random(freqs.shape))
            burst = np.fft.irfft(spectrum * gain * phase, n=length)
            tau = t60 * rng.uniform(0.5, 2.0) / np.log(1000)  # t60 -> time constant
            burst = burst * np.exp(-t / max(tau, 1e-3))
            out.append(burst * (0.95 / np.abs(burst).max()))
            out_labels.append(cls)
    return torch.from_numpy(np.stack(out)).float(), out_labels


# -- scoring ------------------------------------------------------------------------------
def score_set(
    name: str,
    clips: torch.Tensor,
    labels: list[str] | None,
    *,
    sr: int,
    judge: Judge,
    held_emb: np.ndarray,
    train_mel: torch.Tensor,
    held_nn: np.ndarray,
) -> dict[str, Any]:
    probs, emb = judge(clips, sr)
    pred = [judge.labels[i] for i in probs.argmax(1)]
    mel = logmels(clips, sr)
    nn = nn_distances(mel, train_mel)
    threshold = float(np.percentile(held_nn, NN_PERCENTILE))
    row = {
        "set": name,
        "n": int(clips.shape[0]),
        "inception_score": inception_score(probs),
        "label_accuracy": (
            float(np.mean([p == t for p, t in zip(pred, labels, strict=True)])) if labels else None
        ),
        "frechet_embedding": frechet(emb, held_emb),
        "nn_db_median": float(np.median(nn)),
        "memorisation_ratio": float(np.median(nn) / np.median(held_nn)),
        "closer_than_p5": float(np.mean(nn < threshold)),
        "diversity_db": diversity(mel, labels or pred),
        "histogram": {c: pred.count(c) for c in judge.labels},
    }
    if labels:
        row["per_class_accuracy"] = {
            c: float(np.mean([p == c for p, t in zip(pred, labels, strict=True) if t == c]))
            for c in sorted(set(labels))
        }
    return row


def model_sets(
    spec: str,
    *,
    n: int,
    seeds: list[int],
    vocoder: str | None = None,
    truncation: str | None = None,
):
    """Yield ``(name, clips, labels, sr, info, seed)`` for ``--model NAME[=FILE]`` per seed.

    ``vocoder``: a SpecGAN's log-mels go through it instead of the file's choice
    (``"griffin-lim"``: Griffin-Lim even when the file names a vocoder).
    """
    from torchmusic.serve.synthesize import load_gan, synthesize

    name, _, path = spec.partition("=")
    source = path or name
    gan = load_gan(source)
    if gan.architecture == "specgan" and vocoder is not None:
        if vocoder == "griffin-lim":
            gan.vocoder = None
        else:
            gan = load_gan(source, vocoder=vocoder)
        name = f"{name} ({vocoder})"
    elif gan.architecture == "specgan":
        name = f"{name} ({gan.vocoder or 'griffin-lim'})"
    from torchmusic.serve.synthesize import default_truncation

    limit = default_truncation(gan, truncation)
    name = f"{name}, truncation {limit}" if limit is not None else name
    info = {"file": str(source), "architecture": gan.architecture, **gan.spec.metrics}
    info["parameters"] = sum(p.numel() for p in gan.net.parameters())
    for seed in seeds:
        if gan.conditional:
            clips, labels = [], []
            for label in gan.labels:
                clips.append(
                    synthesize(gan, label=label, n=n, seed=seed, truncation=limit or "none")
                )
                labels += [label] * n
            yield name, torch.cat(clips), labels, gan.sample_rate, info, seed
        else:
            audio = synthesize(gan, n=n * 8, seed=seed, truncation=limit or "none")
            yield name, audio, None, gan.sample_rate, info, seed


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds of each set's metrics."""
    keys = ("inception_score", "label_accuracy", "frechet_embedding", "diversity_db",
            "memorisation_ratio", "closer_than_p5")  # fmt: skip
    out = []
    for name in dict.fromkeys(r["set"] for r in rows):
        group = [r for r in rows if r["set"] == name]
        summary = {"set": name, "runs": len(group)}
        for k in keys:
            values = [r[k] for r in group if r[k] is not None]
            summary[k] = (float(np.mean(values)), float(np.std(values))) if values else None
        out.append(summary)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--manifest",
        type=Path,
        required=True,
        help="drums manifest with a split column (drums_fold0.csv)",
    )
    parser.add_argument(
        "--model", action="append", default=[], help="NAME or NAME=FILE of a GAN model (repeatable)"
    )
    parser.add_argument(
        "--vocoder",
        action="append",
        default=None,
        help="SpecGAN models: score once per vocoder ('griffin-lim', a shipped "
        "name or file; repeatable; default: the file's choice)",
    )
    parser.add_argument(
        "--truncation",
        action="append",
        default=None,
        help="score each model once per latent truncation ('none' or T; "
        "repeatable; default: the file's choice)",
    )
    parser.add_argument("--classifier", default="drums")
    parser.add_argument("--n-per-class", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--length", type=int, default=16384, help="samples of the real clips")
    parser.add_argument("--sr", type=int, default=22050)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT / "drum_gan.json")
    args = parser.parse_args()  # fmt: skip

    start = time.time()
    train_items, held_items = read_manifest(args.manifest)
    train, train_labels = load_clips(train_items, length=args.length, sr=args.sr)
    held, held_labels = load_clips(held_items, length=args.length, sr=args.sr)
    print(f"{len(train_labels)} training hits, {len(held_labels)} held-out hits")
    judge = Judge(args.classifier)
    classes = sorted(set(train_labels))
    train_mel = logmels(train, args.sr)
    held_nn = nn_distances(logmels(held, args.sr), train_mel)
    _, held_emb = judge(held, args.sr)
    common = dict(judge=judge, held_emb=held_emb, train_mel=train_mel, held_nn=held_nn)

    rows: list[dict[str, Any]] = []
    rows.append(score_set("real held-out", held, held_labels, sr=args.sr, **common))
    rows[-1]["frechet_embedding"] = 0.0  # against itself, by definition
    rows.append(score_set("real training", train, train_labels, sr=args.sr, **common))
    models: dict[str, Any] = {}
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        pick = [int(i) for c in classes for i in rng.choice(
            [j for j, lab in enumerate(train_labels) if lab == c], args.n_per_class)]  # fmt: skip
        rows.append(score_set("copy of training hits", train[pick],
                              [train_labels[i] for i in pick], sr=args.sr, **common))  # fmt: skip
        bursts, labels = noise_bursts(train, train_labels, classes, n=args.n_per_class,
                                      sr=args.sr, seed=seed)  # fmt: skip
        rows.append(score_set("noise bursts (baseline)", bursts, labels, sr=args.sr, **common))
    jobs = [(spec, v, t) for spec in args.model for v in (args.vocoder or [None])
            for t in (args.truncation or [None])]  # fmt: skip
    for spec, vocoder, truncation in jobs:
        done = set(models)
        for name, clips, labels, sr, info, seed in model_sets(
            spec, n=args.n_per_class, seeds=args.seeds, vocoder=vocoder, truncation=truncation
        ):
            if name in done:
                break  # a WaveGAN is scored once, whatever the --vocoder list
            if sr != args.sr:
                raise SystemExit(f"{name}: makes {sr} Hz audio, the real hits are {args.sr} Hz")
            rows.append(score_set(name, clips, labels, sr=sr, **common))
            rows[-1]["seed"] = seed
            models[name] = info

    summary = summarise(rows)

    def pm(v: tuple[float, float] | None, digits: int = 3) -> str:
        if v is None:
            return "-"
        return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}" if v[1] else f"{v[0]:.{digits}f}"

    table = [
        [s["set"], s["runs"], pm(s["inception_score"], 2), pm(s["label_accuracy"]),
         pm(s["frechet_embedding"], 1), pm(s["diversity_db"], 1), pm(s["memorisation_ratio"]),
         pm(s["closer_than_p5"])]
        for s in summary
    ]  # fmt: skip
    print_table(
        f"Drum hits judged by the `{args.classifier}` classifier ({args.n_per_class} per class "
        f"per seed, seeds {args.seeds})",
        ["set", "seeds", "inception score", "label accuracy", "Fréchet (classifier emb.)",
         "diversity (dB)", "memorisation ratio", f"closer than held-out p{NN_PERCENTILE:g}"],
        table,
    )  # fmt: skip
    for name, info in models.items():
        per_class = [r for r in rows if r["set"] == name and r.get("per_class_accuracy")]
        if per_class:
            classes_ = list(per_class[0]["per_class_accuracy"])
            print_table(
                f"{name}: label accuracy per class (mean over seeds)",
                ["class", *classes_],
                [["accuracy", *[float(np.mean([r["per_class_accuracy"][c] for r in per_class]))
                               for c in classes_]]],
            )  # fmt: skip
        print(f"{name}: {info}")
    write_json(args.out, {
        "manifest": str(args.manifest), "classifier": args.classifier,
        "n_per_class": args.n_per_class, "seeds": args.seeds, "summary": summary,
        "rows": rows, "models": models, "seconds": time.time() - start,
    })  # fmt: skip


if __name__ == "__main__":
    main()
