"""``torchmusic predict``: label audio files and folders with a model file.

Output is a table (default), JSON or CSV, on stdout or in ``--out``; with
``--out FILE.jsonl`` one JSON record per file is written as it finishes and a rerun
continues a killed run (``--restart`` starts over). Decoding runs in ``--workers``
processes and the model in batches of ``--batch-size`` windows across tracks
(:mod:`torchmusic.scale`). Files that cannot be read are skipped and listed on
stderr at the end; the exit status is 1 when any failed, unless ``--allow-failures``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from torchmusic.data.discover import AUDIO_EXTENSIONS
from torchmusic.errors import DataError, ParameterError


def split_model_and_paths(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The model (``--model``, else the first PATH) and the audio inputs."""
    if args.model is not None:
        return args.model, list(args.paths)
    model, *paths = args.paths
    if os.path.splitext(model)[1].lower() in AUDIO_EXTENSIONS:
        raise ParameterError(
            f"{model!r} looks like an audio file, but the first PATH is the model: use "
            "'torchmusic predict MODEL FILE...' or 'torchmusic predict --model MODEL FILE...'"
        )
    if not paths:
        raise ParameterError(
            f"no audio files given after the model {model!r}: "
            "'torchmusic predict MODEL FILE_OR_FOLDER...'"
        )
    return model, paths


def _ranked(pairs: list[tuple[str, float]]) -> str:
    return " | ".join(f"{label} {prob:.3f}" for label, prob in pairs)


def format_table(report: Any, predictor: Any, *, timeline: bool) -> str:
    """Aligned text: one line per track (top-k labels), optional per-window lines."""
    p = predictor
    lines = [
        f"model: {p.source} ({p.spec.architecture}, {len(p.labels)} labels, "
        f"{'multi' if p.spec.multi_label else 'single'}-label, {p.clip_seconds:g} s windows "
        f"every {p.hop_seconds:g} s)"
    ]
    if report.predictions:
        width = min(60, max(len("file"), *(len(t.name) for t in report.predictions)))
        lines.append(f"{'file':<{width}}  {'duration':>9}  top labels")
        for t in report.predictions:
            lines.append(f"{t.name:<{width}}  {t.duration:>8.2f}s  {_ranked(t.labels)}")
            if timeline:
                spans = [f"{start:.2f}-{end:.2f}s" for start, end, _ in t.segments]
                span_width = max(map(len, spans), default=0)
                for span, (_, _, pairs) in zip(spans, t.segments, strict=True):
                    lines.append(f"    {span:>{span_width}}  {_ranked(pairs)}")
    return "\n".join(lines) + "\n"


def format_json(report: Any, predictor: Any) -> str:
    """One JSON document: model summary, ``tracks`` and ``failed``."""
    p = predictor
    doc = {
        "model": str(p.source),
        "architecture": p.spec.architecture,
        "labels": p.labels,
        "multi_label": p.spec.multi_label,
        "clip_seconds": p.clip_seconds,
        "hop_seconds": p.hop_seconds,
        "tracks": [t.to_dict() for t in report.predictions],
        "failed": [{"path": str(f.path), "error": f.error} for f in report.failed],
    }
    return json.dumps(doc, indent=2) + "\n"


CSV_COLUMNS = ("path", "name", "level", "start", "end", "rank", "label", "probability")


def format_csv(report: Any) -> str:
    """Long-format CSV: a row per (track or window, rank); ``level`` is track or segment."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for t in report.predictions:
        rows = [("track", 0.0, t.duration, t.labels)]
        rows += [("segment", s, e, pairs) for s, e, pairs in t.segments]
        for level, start, end, pairs in rows:
            for rank, (label, prob) in enumerate(pairs, start=1):
                writer.writerow(
                    [
                        t.path,
                        t.name,
                        level,
                        f"{start:.3f}",
                        f"{end:.3f}",
                        rank,
                        label,
                        f"{prob:.6f}",
                    ]
                )
    return buf.getvalue()


def print_failures(failed: list[Any], args: argparse.Namespace) -> int:
    if not failed:
        return 0
    print(f"\n{len(failed)} file(s) failed:", file=sys.stderr)
    for failure in failed:
        print(f"  {failure.path}: {failure.error}", file=sys.stderr)
    return 0 if args.allow_failures else 1


def _run_jsonl(args: argparse.Namespace, predictor: Any, paths: list[str]) -> int:
    """``--out FILE.jsonl``: a record per file as it finishes; a rerun continues."""
    from torchmusic.scale.jobs import predict_to_jsonl

    report = predict_to_jsonl(
        paths,
        args.out,
        predictor=predictor,
        restart=args.restart,
        workers=args.workers,
        batch_size=args.batch_size,
        top_k=args.top_k,
        timeline=args.timeline,
        progress=not args.no_progress,
    )
    if not report.written and not report.skipped and not report.failed:
        raise DataError(f"no audio files found in {paths}")
    print(report.summary())
    return print_failures(report.failed, args)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "engine", "local") == "ray":
        from torchmusic.cli.ray_cmd import predict as predict_on_ray

        return predict_on_ray(args)
    from torchmusic.scale.jobs import predict_files
    from torchmusic.serve.predict import Predictor

    jsonl = bool(args.out) and Path(args.out).suffix.lower() == ".jsonl"
    if args.restart and not jsonl:
        raise ParameterError(f"--restart needs --out FILE.jsonl, got --out {args.out!r}")
    model, paths = split_model_and_paths(args)
    predictor = Predictor(model, device=args.device, hop_seconds=args.hop_seconds)
    if jsonl:
        return _run_jsonl(args, predictor, paths)
    report = predict_files(
        paths,
        model=predictor,
        workers=args.workers,
        batch_size=args.batch_size,
        top_k=args.top_k,
        timeline=args.timeline,
        progress=not args.no_progress,
    )
    if not report.predictions and not report.failed:
        raise DataError(f"no audio files found in {paths}")
    return write_report(report, predictor, args)


def write_report(report: Any, predictor: Any, args: argparse.Namespace) -> int:
    """Format ``report`` as ``--format`` asks, to ``--out`` or stdout; list failures.

    Shared by the local and the Ray engine so both print the same thing; the exit
    status is 1 when a file failed (unless ``--allow-failures``).
    """
    if args.format == "json":
        text = format_json(report, predictor)
    elif args.format == "csv":
        text = format_csv(report)
    else:
        text = format_table(report, predictor, timeline=args.timeline)
    if args.out:
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot write --out {str(out)!r}: {exc.strerror or exc}") from exc
        print(f"wrote predictions for {len(report.predictions)} file(s) to {out}")
    else:
        sys.stdout.write(text)
    return print_failures(report.failed, args)
