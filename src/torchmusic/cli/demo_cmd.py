"""``torchmusic demo``: the README's main job on the built-in demo corpus.

1. build the demo corpus (folk tunes rendered with FluidSynth) into ``OUT/corpus``;
2. extract its log-mel features into the cache ``OUT/cache`` with a progress bar, and
   print tables: tracks per class and split, instrument families, feature shapes;
3. train a tune-type classifier with the recipe ``configs/demo.yaml`` (``OUT/run``);
4. evaluate it on the held-out test split (``OUT/eval``: report.json, confusion.png);
5. predict a few held-out tracks with the model file, as ``torchmusic predict`` does;
6. build a similar-track catalog of the corpus (``OUT/catalog``: SQLite + FAISS) with the
   shipped ``music-embed`` encoder, print the nearest neighbours of a few tracks, and
   how many of every track's 5 neighbours share its tune type / instrument family,
   next to the same count for standardised MFCC statistics (``OUT/catalog-mfcc``);
7. generate a few folk tunes with the shipped ``folk`` model (``OUT/generated``: MIDI,
   piano-roll PNGs, and WAVs when FluidSynth is installed);
8. resynthesise a held-out clip with the shipped ``music-vocoder`` next to Griffin-Lim;
9. mix a held-out clip with a noise the shipped ``music-denoiser`` never heard in
   training (``running_tap`` from ``../shared/data/noise``, else generated hiss),
   denoise it, and print the SI-SDR before and after (``OUT/denoised``);
10. draw two new hits of three classes (kick, snare, hihat) from the shipped
    ``drum-gan`` and print what the shipped ``drums`` classifier calls them
    (``OUT/drum_hits``).

Every step is resumable: a second run reuses the corpus, the cached features and
the trained model (an interrupted training run resumes from its last checkpoint).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path


def _table(title: str, header: list[str], rows: list[list[object]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True))
    out = [title, line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(f"{x!s:<{w}}" for x, w in zip(row, widths, strict=True)))
    return "\n".join(out)


# The recipe lives with the other recipes in the source checkout's configs/ folder.
DEMO_RECIPE = Path(__file__).resolve().parents[3] / "configs" / "demo.yaml"


def run(args: argparse.Namespace) -> int:
    from torchmusic.data import ManifestDataset, extract_features
    from torchmusic.data.demo import build_demo_corpus
    from torchmusic.errors import DataError
    from torchmusic.training.classify.settings import TrainConfig

    if not DEMO_RECIPE.is_file():
        raise DataError(
            f"the demo's training recipe {DEMO_RECIPE} is missing; run the demo from a "
            "source checkout of torchmusic (make demo)"
        )

    _check_args(args)  # before the corpus is built: a typo costs nothing
    out = Path(args.out)
    progress = not args.no_progress
    t0 = time.perf_counter()
    print(f"[1/10] demo corpus -> {out / 'corpus'}")
    manifest = build_demo_corpus(
        out / "corpus",
        per_class=args.per_class,
        seed=args.seed,
        workers=args.workers,
        progress=progress,
    )
    t_corpus = time.perf_counter() - t0

    dataset = ManifestDataset(manifest, label_column="tune_type")
    families = ManifestDataset(manifest, label_column="instrument_family")
    run_dir = out / "run"
    train_cfg = TrainConfig.from_sources(
        config=DEMO_RECIPE,
        data=str(manifest),
        out_dir=str(run_dir),
        cache_dir=str(out / "cache"),
        max_epochs=args.epochs,
        seed=args.seed,
        resume=(run_dir / "checkpoints" / "last.ckpt").is_file(),
    )
    config = train_cfg.feature_config()  # the features training will read from the cache
    print(f"[2/10] log-mel features of {len(dataset)} tracks -> cache {out / 'cache'}")
    t1 = time.perf_counter()
    report = extract_features(
        [t.path for t in dataset.tracks],
        config,
        cache_dir=out / "cache",
        workers=args.workers,
        progress=progress,
    )
    t_features = time.perf_counter() - t1

    _print_tables(dataset, families, config, report)
    if report.failed:
        print(report.summary())
        return 1
    t_train, model_file = _train(train_cfg, run_dir, progress)
    test_tracks = _evaluate(model_file, manifest, out / "eval", progress)
    _predict(model_file, test_tracks[:: max(1, len(test_tracks) // 4)][:4])
    _catalog(out / "corpus", out, args.workers, progress)
    _generate(out / "generated", args.seed)
    _vocode(test_tracks[0].path, out / "vocoded")
    _denoise(test_tracks[-1].path, out / "denoised", args.seed)
    _drum_hits(out / "drum_hits", args.seed)
    print(
        f"\ncorpus {t_corpus:.1f} s, features {t_features:.1f} s, training {t_train:.1f} s, "
        f"total {time.perf_counter() - t0:.1f} s\nmanifest: {manifest}\nmodel file: "
        f"{model_file}  (try: torchmusic predict {model_file} {test_tracks[0].path})"
    )
    return 0


def _check_args(args: argparse.Namespace) -> None:
    """Every setting of the demo, checked before any work is done."""
    from torchmusic.data.discover import check_output_folder
    from torchmusic.errors import ParameterError

    for flag, value in (("--epochs", args.epochs), ("--per-class", args.per_class)):
        if value < 1:
            raise ParameterError(f"{flag} {value}: expected a positive integer")
    if args.workers is not None and args.workers < 1:
        raise ParameterError(f"--workers {args.workers}: expected a positive integer")
    check_output_folder(args.out, what="--out")


def _print_tables(dataset, families, config, report) -> None:
    """Tracks per tune type and split, instrument families, and the features table."""
    splits = sorted({t.split for t in dataset.tracks if t.split})
    per_class = Counter((t.label, t.split) for t in dataset.tracks)
    rows = [
        [c, *(per_class[(c, s)] for s in splits), sum(per_class[(c, s)] for s in splits)]
        for c in dataset.classes
    ]
    print()
    print(_table("Tracks per tune type and split", ["tune type", *splits, "total"], rows))
    fam = Counter(t.label for t in families.tracks)
    print()
    print(_table("Instrument families", ["family", "tracks"], sorted(fam.items())))
    shapes = Counter(tuple(item.load(mmap=True).shape) for item in report.ok)
    print()
    print(
        _table(
            "Features",
            ["kind", "shape (bins, frames)", "files", "computed", "reused", "failed"],
            [
                [
                    config.kind,
                    ", ".join(f"{s} x{n}" for s, n in shapes.most_common()),
                    len(report.ok),
                    report.computed,
                    report.reused,
                    len(report.failed),
                ]
            ],
        )
    )


def _train(cfg, run_dir: Path, progress: bool) -> tuple[float, Path]:
    from torchmusic.training import train_classifier

    model_file = run_dir / "model.safetensors"
    t0 = time.perf_counter()
    if model_file.is_file():
        print(f"\n[3/10] reusing the trained model {model_file}")
        return 0.0, model_file
    print(
        f"\n[3/10] training a {cfg.model} tune-type classifier ({cfg.max_epochs} epochs, "
        f"{cfg.clip_seconds or 'auto'} s clips) -> {run_dir}"
    )
    result = train_classifier(cfg, progress=progress)
    return time.perf_counter() - t0, result.model_file


def _evaluate(model_file: Path, manifest: Path, out_dir: Path, progress: bool) -> list:
    from torchmusic.data import ManifestDataset
    from torchmusic.serve.evaluate import evaluate_model

    print(f"\n[4/10] evaluating on the held-out test split -> {out_dir}")
    report = evaluate_model(
        model_file,
        manifest,
        split="test",
        label_column="tune_type",
        out_dir=out_dir,
        progress=progress,
    )
    print(report.summary())
    return list(ManifestDataset(manifest, label_column="tune_type", split="test").tracks)


def _predict(model_file: Path, tracks: list) -> None:
    from torchmusic.serve.predict import Predictor

    print("\n[5/10] predictions for a few held-out tracks (top 3)")
    predictor = Predictor(model_file)
    rows = []
    for track in tracks:
        pred = predictor.predict_file(track.path, top_k=3)
        top = ", ".join(f"{label} {prob:.2f}" for label, prob in pred.labels)
        rows.append([Path(track.path).name, track.label, top])
    print(_table("", ["track", "true tune type", "predicted"], rows))


def _catalog(corpus: Path, out: Path, workers, progress: bool) -> None:
    """Step 6: the corpus catalogued by the shipped ``music-embed`` embedding and by MFCC
    statistics; neighbours of a few tracks, then how often neighbours share labels."""
    from torchmusic.recommend.catalog.demo import build_demo_catalog

    print(f"\n[6/10] similar-track catalog of the corpus -> {out / 'catalog'}")
    results = {}
    for name, folder in (("music-embed", "catalog"), ("mfcc", "catalog-mfcc")):
        results[name] = build_demo_catalog(
            corpus, out / folder, model=name, n_queries=3, k=5, workers=workers,
            progress=progress,
        )  # fmt: skip
        if results[name].report.failed:
            print(results[name].report.summary())
    print(results["music-embed"].table())
    labels = results["music-embed"].labels
    rows = []
    for name, result in results.items():
        share = result.agreement(k=5)
        rows.append([name] + [f"{5 * share[lab]:.2f} / 5" for lab in labels])
    print(
        _table(
            "\nneighbours (of 5) sharing the query's label, every track a query; neither "
            "embedder saw these labels",
            ["embedder", *labels],
            rows,
        )
    )


def _generate(out_dir: Path, seed: int) -> None:
    from torchmusic.cli.generate_cmd import write_pieces
    from torchmusic.models.symbolic import load_generator
    from torchmusic.symbolic import generate_pieces

    print(f"\n[7/10] three folk tunes from the shipped 'folk' model -> {out_dir}")
    folk = load_generator("folk")  # once for the three tunes
    # The same pieces as `torchmusic generate --model folk -n 1 --bars 8 --seed S
    # --condition tune_type=T` (the CLI's defaults: temperature 1, top-p 0.95).
    for i, tune_type in enumerate(("reel", "jig", "hornpipe")):
        scores = generate_pieces(
            folk, n=1, bars=8, conditions={"tune_type": tune_type},
            temperature=1.0, top_p=0.95, top_k=0, seed=seed + i,
        )  # fmt: skip
        write_pieces(
            scores,
            out_dir / tune_type,
            names=[f"folk-{seed + i}"],
            titles=[f"folk seed {seed + i} (tune_type={tune_type})"],
            png=True,
            wav=True,
        )


def _vocode(track: Path, out_dir: Path) -> None:
    """One held-out clip through the shipped vocoder, scored next to Griffin-Lim."""
    from torchmusic.pretrained import available_models

    print(f"\n[8/10] one held-out clip resynthesised by the shipped 'music-vocoder' -> {out_dir}")
    if "music-vocoder" not in available_models():
        print("  (skipped: the shipped music-vocoder is not installed)")
        return
    from torchmusic.audio import load
    from torchmusic.serve.vocode import Vocoder, compare_with_griffin_lim, vocode_file

    vocoder = Vocoder("music-vocoder")
    written, _ = vocode_file(vocoder, track, out_dir)
    y, _ = load(track, sr=vocoder.sample_rate, duration=10.0)
    rows = compare_with_griffin_lim(vocoder, y, refine=32)  # `vocode --refine 32`
    print(f"  {track.name} -> {written} (scores on its first {len(y) / vocoder.sample_rate:.0f} s)")
    print(
        _table(
            "",
            ["resynthesis", "log-mel L1 (dB, lower is better)", "MR-STFT (lower)", "SI-SDR (dB)"],
            [
                [name, f"{r['log_mel_l1_db']:.2f}", f"{r['mr_stft']:.3f}", f"{r['si_sdr_db']:.1f}"]
                for name, r in rows.items()
            ],
        )
    )


# Where a source checkout finds the project's shared data (the demo's held-out noise).
SHARED_NOISE = Path(__file__).resolve().parents[4] / "shared" / "data" / "noise"
DEMO_SNR_DB = 5.0


def _demo_noise(n: int, sr: int, seed: int) -> tuple[object, str]:
    """A noise the shipped denoiser did not train on: the held-out ``running_tap``
    recording when the shared data is there, else generated tape hiss (a seen kind)."""
    from torchmusic.audio import load
    from torchmusic.data.noise import DEFAULT_UNSEEN, noise_files, random_noise

    if SHARED_NOISE.is_dir():
        held_out = [f for f in noise_files(SHARED_NOISE) if f.kind in DEFAULT_UNSEEN]
        if held_out:
            y, _ = load(held_out[0].path, sr=sr)
            return y.numpy(), f"{held_out[0].path.name} (a noise kind held out of training)"
    return random_noise("hiss", n, sr, rng=seed), "generated tape hiss (a kind seen in training)"


def _denoise(track: Path, out_dir: Path, seed: int) -> None:
    """One held-out clip plus a held-out noise through the shipped denoiser: SI-SDR before/after."""
    from torchmusic.pretrained import available_models

    print(
        f"\n[9/10] one held-out clip, noisy, cleaned by the shipped 'music-denoiser' -> {out_dir}"
    )
    if "music-denoiser" not in available_models():
        print("  (skipped: the shipped music-denoiser is not installed)")
        return
    import soundfile as sf

    from torchmusic.audio import load
    from torchmusic.data.mixtures import mix_at_snr
    from torchmusic.metrics.audio import si_sdr
    from torchmusic.serve.denoise import Denoiser

    denoiser = Denoiser("music-denoiser")
    sr = denoiser.sample_rate
    clean, _ = load(track, sr=sr, duration=10.0)
    clean = clean.numpy()
    noise, what = _demo_noise(len(clean), sr, seed)
    noisy = mix_at_snr(clean, noise, DEMO_SNR_DB)
    cleaned = denoiser(noisy, sr)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, y in (("noisy", noisy), ("denoised", cleaned)):
        sf.write(out_dir / f"{track.stem}-{name}.wav", y, sr, subtype="PCM_24")
    before, after = si_sdr(clean, noisy), si_sdr(clean, cleaned)
    print(f"  {track.name} + {what} at {DEMO_SNR_DB:g} dB SNR -> {out_dir}")
    print(
        _table(
            "",
            ["audio", "SI-SDR vs the clean clip (dB, higher is better)"],
            [["noisy input", f"{before:.2f}"], ["denoised", f"{after:.2f}"],
             ["improvement", f"{after - before:+.2f}"]],
        )
    )  # fmt: skip


#: The classes the demo asks the shipped drum GAN for (issue 13: 2 hits of 3 classes).
DEMO_DRUMS = ("kick", "snare", "hihat")


def _drum_hits(out_dir: Path, seed: int) -> None:
    """Two new hits of three classes from the shipped drum GAN, labelled by the drums classifier."""
    from torchmusic.pretrained import available_models

    print(f"\n[10/10] new drum hits from the shipped 'drum-gan' -> {out_dir}")
    missing = [m for m in ("drum-gan", "drums") if m not in available_models()]
    if missing:
        print(f"  (skipped: the shipped {' and '.join(missing)} model(s) are not installed)")
        return
    from torchmusic.serve.predict import Predictor
    from torchmusic.serve.synthesize import load_gan, synthesize, write_hits

    gan = load_gan("drum-gan")
    judge = Predictor("drums")
    rows = []
    for label in DEMO_DRUMS:
        hits = synthesize(gan, label=label, n=2, seed=seed)
        names = [f"{label}-{i}" for i in range(len(hits))]
        paths = write_hits(hits, out_dir, names, sample_rate=gan.sample_rate, png=False)
        if gan.sample_rate != judge.feature.sr:
            from torchmusic.audio import resample

            hits = resample(hits, orig_sr=gan.sample_rate, target_sr=judge.feature.sr)
        for path, hit in zip(paths, hits, strict=True):
            top = judge.predict_waveform(hit, top_k=1).labels[0]
            rows.append([label, path.name, f"{top[0]} ({top[1]:.2f})"])
    print(_table("", ["asked for", "file", "drums classifier says"], rows))
    agree = sum(r[0] == r[2].split(" ")[0] for r in rows)
    print(f"  the classifier agrees with {agree} of {len(rows)} requested labels")
