"""Build the demo corpus: seeded, resumable, parallel over worker processes."""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import soundfile as sf
from tqdm.auto import tqdm

from torchmusic.audio.fluidsynth import find_fluidsynth, find_soundfont, fluidsynth_version
from torchmusic.data.demo.instruments import GM_PROGRAM_NAMES
from torchmusic.data.demo.plan import Slot, plan_slots, tune_order
from torchmusic.data.demo.report import describe, readme, write_json_atomic, write_text_atomic
from torchmusic.data.demo.track import TrackJob, TrackResult, make_track, tempo_bpm
from torchmusic.data.demo.tunes import (
    DEFAULT_TUNE_TYPES,
    TUNE_TYPES,
    Tune,
    music21_version,
    scan_tunes,
)
from torchmusic.data.discover import check_output_folder
from torchmusic.errors import DataError, ParameterError

# Bump when a change makes existing clips stale (it is part of every file name).
CORPUS_VERSION = 1
MANIFEST_NAME = "manifest.csv"
DESCRIPTION_NAME = "corpus.json"
MANIFEST_COLUMNS: tuple[str, ...] = (
    "path",
    "tune_type",
    "instrument_family",
    "instrument",
    "program",
    "title",
    "collection",
    "source",
    "meter",
    "tempo_bpm",
    "duration_s",
    "split",
)


def _validate(
    per_class: Any,
    tune_types: Any,
    seed: Any,
    sample_rate: Any,
    clip_seconds: Any,
    workers: Any,
) -> tuple[str, ...]:
    def is_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not is_int(per_class) or per_class < 1:
        raise ParameterError(f"per_class={per_class!r} must be a positive int")
    if not is_int(seed):
        raise ParameterError(f"seed={seed!r} must be an int")
    if not is_int(sample_rate) or not 8000 <= sample_rate <= 96000:
        raise ParameterError(
            f"sample_rate={sample_rate!r} must be an int in [8000, 96000] (FluidSynth's range)"
        )
    if (
        not isinstance(clip_seconds, int | float)
        or not math.isfinite(clip_seconds)
        or not 0 < clip_seconds <= 600
    ):
        raise ParameterError(f"clip_seconds={clip_seconds!r} must be in (0, 600]")
    if workers is not None and (not is_int(workers) or workers < 1):
        raise ParameterError(f"workers={workers!r} must be None or a positive int")
    if tune_types is None:
        return DEFAULT_TUNE_TYPES
    if isinstance(tune_types, str):
        tune_types = (tune_types,)
    tune_types = tuple(tune_types)
    unknown = [t for t in tune_types if t not in TUNE_TYPES]
    if not tune_types or unknown or len(set(tune_types)) != len(tune_types):
        raise ParameterError(
            f"tune_types={tune_types!r} must be distinct names from {tuple(TUNE_TYPES)}"
        )
    return tune_types


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "tune"


def _relative_path(slot: Slot, tune: Tune, settings: dict[str, Any]) -> str:
    """Clip file name: a readable slug plus a hash of everything the audio depends on.

    An existing file of that name is therefore a finished clip of this very
    configuration, which is what makes re-runs and interrupted builds resumable.
    """
    key = json.dumps(
        [
            CORPUS_VERSION,
            tune.source,
            slot.program,
            slot.tempo_scale,
            settings["sample_rate"],
            settings["clip_seconds"],
            settings["soundfont"],
            settings["soundfont_bytes"],
        ]
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return f"audio/{slot.tune_type}/{_slug(tune.title)}-{digest}.wav"


def _is_complete(out_dir: Path, settings: dict[str, Any]) -> bool:
    """Whether ``out_dir`` already holds a finished corpus of these settings."""
    try:
        info = json.loads((out_dir / DESCRIPTION_NAME).read_text(encoding="utf-8"))
        with open(out_dir / MANIFEST_NAME, newline="", encoding="utf-8") as handle:
            paths = [row["path"] for row in csv.DictReader(handle)]
    except (OSError, ValueError, KeyError):
        return False
    return info.get("settings") == settings and all((out_dir / p).is_file() for p in paths)


def _default_workers() -> int:
    if hasattr(os, "process_cpu_count"):  # Python >= 3.13
        return os.process_cpu_count() or 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_jobs(jobs: list[TrackJob], workers: int, bar: tqdm) -> list[TrackResult]:
    """Run jobs in worker processes (in this process for one worker or one job)."""
    results: list[TrackResult | None] = [None] * len(jobs)
    if workers == 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            results[i] = make_track(job)
            bar.update(results[i].error is None)
        return results  # type: ignore[return-value]
    executor = concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(jobs)))
    try:
        futures = {executor.submit(make_track, job): i for i, job in enumerate(jobs)}
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            bar.update(result.error is None)
    except BaseException:
        # Ctrl-C or a FluidSynth failure: do not wait for the queued clips.
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown()
    return results  # type: ignore[return-value]


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    """Delete partial files and clips of other configurations under ``audio/``."""
    for path in (out_dir / "audio").glob("*/*"):
        relative = path.relative_to(out_dir).as_posix()
        if path.name.endswith(".part") or (path.suffix == ".wav" and relative not in keep):
            path.unlink(missing_ok=True)


def build_demo_corpus(
    out_dir: str | os.PathLike[str],
    *,
    per_class: int = 50,
    tune_types: Sequence[str] | None = None,
    seed: int = 0,
    sample_rate: int = 22050,
    clip_seconds: float = 30.0,
    soundfont: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Build the labelled demo corpus of synthesised dance tunes.

    Tunes of each type come from music21's bundled O'Neill's, Ryan's and Aird's
    collections; each is played (repeats expanded, looped to ``clip_seconds``)
    at its type's dance tempo +-8% on a seeded General MIDI instrument, rendered
    with FluidSynth. ``out_dir`` receives ``audio/<tune_type>/*.wav``,
    ``manifest.csv`` (written last), ``corpus.json`` and ``README.md``.

    Re-running with the same arguments on a finished corpus returns at once; an
    interrupted build resumes, rendering only the missing clips. Clips of other
    settings found under ``out_dir/audio`` are deleted.

    Parameters
    ----------
    out_dir : path-like
        Output folder (created).
    per_class : int > 0
        Tracks per tune type (classes are balanced).
    tune_types : sequence of str or None
        Classes, from ``reel, jig, hornpipe, strathspey, slip_jig``; None: all five.
    seed : int
        Seed of every choice: tunes, instruments, tempi, splits.
    sample_rate : int in [8000, 96000]
        Audio sample rate in Hz.
    clip_seconds : float in (0, 600]
        Length of every clip.
    soundfont : path-like or None
        General MIDI ``.sf2``; None searches ``TORCHMUSIC_SOUNDFONT`` then
        /usr/share/sounds/sf2 (see :func:`~torchmusic.data.demo.find_soundfont`).
    workers : int or None
        Rendering processes; None: one per available CPU.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out_dir / "manifest.csv"``.

    Raises
    ------
    ParameterError
        On invalid arguments, or ``per_class`` above the tunes available.
    DependencyError
        If FluidSynth or a soundfont is missing (the message names the apt
        packages), or FluidSynth fails.
    DataError
        If too many tunes of a type fail to parse to fill ``per_class``.

    Examples
    --------
    >>> manifest = build_demo_corpus("demo_out", per_class=2, clip_seconds=5)  # doctest: +SKIP
    >>> import csv
    >>> rows = list(csv.DictReader(open(manifest)))  # doctest: +SKIP
    >>> len(rows), rows[0]["tune_type"]  # doctest: +SKIP
    (10, 'reel')
    """
    tune_types = _validate(per_class, tune_types, seed, sample_rate, clip_seconds, workers)
    check_output_folder(out_dir)
    fluidsynth = find_fluidsynth()
    soundfont_path = find_soundfont(soundfont)
    out_dir = Path(out_dir)
    settings: dict[str, Any] = {
        "corpus_version": CORPUS_VERSION,
        "seed": seed,
        "per_class": per_class,
        "tune_types": list(tune_types),
        "sample_rate": sample_rate,
        "clip_seconds": float(clip_seconds),
        "soundfont": soundfont_path.name,
        "soundfont_bytes": soundfont_path.stat().st_size,
    }
    manifest = out_dir / MANIFEST_NAME
    if _is_complete(out_dir, settings):
        return manifest
    # The manifest marks a finished corpus: drop a stale one before anything
    # else of this build is written.
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)

    orders, counts = _candidate_orders(tune_types, per_class=per_class, seed=seed)
    slots = plan_slots(tune_types, per_class=per_class, seed=seed)
    render = {
        "sample_rate": sample_rate,
        "clip_seconds": float(clip_seconds),
        "soundfont": str(soundfont_path),
        "fluidsynth": str(fluidsynth),
    }
    done, skipped = _fill_slots(
        slots,
        orders,
        out_dir=out_dir,
        settings=settings,
        render=render,
        workers=workers or _default_workers(),
        progress=progress,
    )
    rows = [_manifest_row(slot, *done[i]) for i, slot in enumerate(slots)]
    info = describe(
        rows,
        settings=settings,
        skipped=sorted(skipped, key=lambda item: item["source"]),
        candidates=counts,
        soundfont=soundfont_path,
        fluidsynth=fluidsynth_version(fluidsynth),
        music21_version=music21_version(),
    )
    write_json_atomic(out_dir / DESCRIPTION_NAME, info)
    write_text_atomic(out_dir / "README.md", readme(info))
    _write_manifest(manifest, rows)  # last: its presence marks a finished corpus
    _remove_stale(out_dir, {row["path"] for row in rows})
    return manifest


def _candidate_orders(
    tune_types: Sequence[str], *, per_class: int, seed: int
) -> tuple[dict[str, list[Tune]], dict[str, dict[str, int]]]:
    """Each class's usable tunes in seeded trial order, and their count per collection."""
    candidates: dict[str, list[Tune]] = {t: [] for t in tune_types}
    for tune in scan_tunes():
        if tune.tune_type in candidates:
            candidates[tune.tune_type].append(tune)
    for tune_type, tunes in candidates.items():
        if len(tunes) < per_class:
            raise ParameterError(
                f"per_class={per_class} but only {len(tunes)} {tune_type} tunes are available"
            )
    orders = {
        t: [tunes[i] for i in tune_order(len(tunes), tune_type=t, seed=seed)]
        for t, tunes in candidates.items()
    }
    counts = {
        t: dict(collections.Counter(tune.collection for tune in tunes))
        for t, tunes in candidates.items()
    }
    return orders, counts


def _fill_slots(
    slots: list[Slot],
    orders: dict[str, list[Tune]],
    *,
    out_dir: Path,
    settings: dict[str, Any],
    render: dict[str, Any],
    workers: int,
    progress: bool,
) -> tuple[dict[int, tuple[Tune, str, float]], list[dict[str, str]]]:
    """Give every slot a tune and its clip, rendering the clips not on disk yet.

    Each round gives every unfilled slot its class's next untried tune; slots
    whose tune fails to parse go round again. Outcomes depend only on the tunes,
    so the result is the same for any number of workers and across resumes.

    Returns ``{slot position: (tune, clip path, duration)}`` and the skipped tunes.
    """
    tried = dict.fromkeys(orders, 0)  # tunes tried so far, per class
    done: dict[int, tuple[Tune, str, float]] = {}
    skipped: list[dict[str, str]] = []
    pending = list(range(len(slots)))
    with tqdm(total=len(slots), desc="demo corpus", unit="clip", disable=not progress) as bar:
        while pending:
            jobs, job_slots = [], []
            for position in pending:
                slot = slots[position]
                order = orders[slot.tune_type]
                if tried[slot.tune_type] >= len(order):
                    parsed = sum(1 for p in done if slots[p].tune_type == slot.tune_type)
                    raise DataError(
                        f"only {parsed} of the {len(order)} {slot.tune_type} tunes could be "
                        f"parsed (see skipped tunes); use per_class <= {parsed}"
                    )
                tune = order[tried[slot.tune_type]]
                tried[slot.tune_type] += 1
                relative = _relative_path(slot, tune, settings)
                target = out_dir / relative
                if target.is_file():  # rendered by an earlier (maybe interrupted) build
                    done[position] = (tune, relative, sf.info(target).duration)
                    bar.update()
                    continue
                jobs.append(
                    TrackJob(
                        abc=tune.abc,
                        tune_type=slot.tune_type,
                        program=slot.program,
                        tempo_scale=slot.tempo_scale,
                        path=str(target.resolve()),
                        **render,
                    )
                )
                job_slots.append((position, tune, relative))
            pending = []
            results = _run_jobs(jobs, workers, bar)
            for (position, tune, relative), result in zip(job_slots, results, strict=True):
                if result.error is None:
                    done[position] = (tune, relative, result.duration_s)
                    continue
                pending.append(position)
                skipped.append(
                    {
                        "source": tune.source,
                        "title": tune.title,
                        "tune_type": tune.tune_type,
                        "error": result.error,
                    }
                )
            pending.sort()
    return done, skipped


def _manifest_row(slot: Slot, tune: Tune, relative: str, duration: float) -> dict[str, Any]:
    return {
        "path": relative,
        "tune_type": slot.tune_type,
        "instrument_family": slot.family,
        "instrument": GM_PROGRAM_NAMES[slot.program],
        "program": slot.program,
        "title": tune.title,
        "collection": tune.collection,
        "source": tune.source,
        "meter": tune.meter,
        "tempo_bpm": round(tempo_bpm(slot.tune_type, slot.tempo_scale), 2),
        "duration_s": round(duration, 4),
        "split": slot.split,
    }


def _write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)
