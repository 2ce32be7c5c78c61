"""Scores of music21's corpus played on seeded General MIDI instruments (FluidSynth).

Varied, polyphonic, labelled-by-construction audio for self-supervised training
(``torchmusic datasets build renders``): Bach chorales, Palestrina masses,
Monteverdi madrigals, trecento songs, string quartets... each piece played either
by one instrument on every part or by a different instrument per part, at a
seeded tempo, with one of the installed General MIDI soundfonts, and cut to a
window of ``seconds``.

The demo corpus's dance-tune collections (:data:`EXCLUDED_COLLECTIONS`) are left
out, so an encoder trained on these renders never hears a tune the demo corpus's
probes are scored on. Pieces are split train/valid/test by a hash of their corpus
path (the split never depends on which other pieces were chosen).

Examples
--------
>>> from torchmusic.data.renders import build_renders
>>> manifest = build_renders("renders", count=40)  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import dataclasses
import json
import os
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from torchmusic.audio.fluidsynth import check_soundfont, find_fluidsynth, render_midi
from torchmusic.errors import DataError, DependencyError, ParameterError

#: The demo corpus's tune collections: never rendered here (see the module docstring).
EXCLUDED_COLLECTIONS: tuple[str, ...] = ("oneills1850", "ryansMammoth", "airdsAirs")
#: Collections that are one file of many songs (opus) or exercises: not worth a render.
SKIPPED_COLLECTIONS: tuple[str, ...] = ("demos", "theoryExercises", "leadSheet")
#: Roman-numeral analyses (``.rntxt``) restate a score of the corpus as block chords: the
#: same piece twice would make a false negative pair for contrastive training.
SKIPPED_SUFFIXES: tuple[str, ...] = (".rntxt",)
#: The Humdrum encodings' notice (Palestrina's masses, a few Bach chorales in ``.krn``):
#: "Rights to all derivative electronic formats reserved". A model trained on renders of
#: them could be such a derivative, so those files are never rendered.
RESTRICTED_NOTICE = "derivative electronic formats reserved"
#: General MIDI family names, program // 8.
GM_FAMILIES: tuple[str, ...] = (
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble",
    "brass", "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic",
    "percussive", "sound_effects",
)  # fmt: skip
#: Programs drawn: melodic families up to synth pads, minus Orchestra Hit (55) and the
#: pads' slow swells (88-95 sound alike and smear polyphony).
PROGRAMS: tuple[int, ...] = tuple(p for p in range(88) if p != 55)
MANIFEST_COLUMNS = (
    "path", "collection", "piece", "programs", "families", "ensemble", "soundfont",
    "tempo_scale", "start_s", "duration_s", "split",
)  # fmt: skip
DEFAULT_SOUNDFONTS: tuple[str, ...] = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)


@dataclasses.dataclass(frozen=True)
class RenderJob:
    """Everything one worker needs to render one piece (picklable)."""

    source: str  # absolute path of the corpus file
    collection: str
    piece: str  # path relative to the corpus root, the piece's identity
    out: str  # absolute output path (.flac)
    seed: int
    soundfont: str
    seconds: float
    sample_rate: int
    split: str


def _rng(seed: int, name: str, stream: int) -> np.random.Generator:
    # crc32, not hash(): Python salts str hashes per process.
    return np.random.default_rng([seed, zlib.crc32(name.encode()), stream])


def corpus_pieces(collections: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """``(collection, piece, absolute path)`` of music21's bundled corpus, sorted.

    Parameters
    ----------
    collections : sequence of str, optional
        Top-level corpus folders to keep (default: all but :data:`EXCLUDED_COLLECTIONS`
        and :data:`SKIPPED_COLLECTIONS`). Naming an excluded one is an error.

    Returns
    -------
    list of tuple of str

    Raises
    ------
    DependencyError
        If music21 is not installed.
    ParameterError
        If a collection is excluded or unknown.
    """
    try:
        from music21 import corpus
    except ImportError as exc:  # pragma: no cover - music21 is in the dev extra
        raise DependencyError("renders need music21: pip install 'torchmusic[demo]'") from exc
    found: dict[str, list[tuple[str, str]]] = {}
    for path in corpus.getPaths():
        text = str(path)
        if "/corpus/" not in text:
            continue
        relative = text.split("/corpus/", 1)[1]
        if relative.endswith(SKIPPED_SUFFIXES) or _restricted(path):
            continue
        found.setdefault(relative.split("/", 1)[0], []).append((relative, text))
    if collections is None:
        wanted = [c for c in found if c not in EXCLUDED_COLLECTIONS + SKIPPED_COLLECTIONS]
    else:
        wanted = list(collections)
        for name in wanted:
            if name in EXCLUDED_COLLECTIONS:
                raise ParameterError(
                    f"collection {name!r} is the demo corpus's: rendering it would leak "
                    "the probe tunes into training"
                )
            if name not in found:
                raise ParameterError(f"unknown music21 collection {name!r}; have {sorted(found)}")
    return sorted((c, rel, text) for c in wanted for rel, text in found[c])


def _restricted(path: Path) -> bool:
    """Whether a Humdrum file carries :data:`RESTRICTED_NOTICE` (in its reference records)."""
    if Path(path).suffix != ".krn":
        return False
    return RESTRICTED_NOTICE in Path(path).read_text(encoding="utf-8", errors="replace")


def piece_split(piece: str, *, valid: float = 0.05, test: float = 0.05) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` from a hash of the piece's corpus path.

    Examples
    --------
    >>> piece_split("bach/bwv66.6.mxl") in {"train", "valid", "test"}
    True
    """
    u = zlib.crc32(piece.encode()) / 2**32
    return "test" if u < test else "valid" if u < test + valid else "train"


def _interleave(pieces: list[tuple[str, str, str]], seed: int) -> list[tuple[str, str, str]]:
    """Seeded shuffle within each collection, then round-robin across collections.

    Why: Palestrina alone is 40 % of the corpus; taking the first N of one shuffle would
    make most renders five-voice masses.
    """
    by_collection: dict[str, list[tuple[str, str, str]]] = {}
    for item in pieces:
        by_collection.setdefault(item[0], []).append(item)
    queues = []
    for name in sorted(by_collection):
        items = by_collection[name]
        order = _rng(seed, name, 0).permutation(len(items))
        queues.append([items[i] for i in order])
    out: list[tuple[str, str, str]] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _score_midi(source: str, midi_path: Path) -> None:
    from music21 import converter, stream

    parsed = converter.parse(source)
    if isinstance(parsed, stream.Opus):
        if not parsed.scores:
            raise DataError(f"{source}: an empty opus")
        parsed = parsed.scores[0]
    parsed.write("midi", fp=str(midi_path))


def _orchestrate(
    job: RenderJob, midi_in: Path, midi_out: Path
) -> tuple[list[int], str, float, float]:
    """Give every non-empty part a seeded GM program, the piece a seeded tempo, and cut
    a seeded window of ``job.seconds`` from it (cut as MIDI: rendering a whole quartet
    movement to keep 45 s of it would cost 10x more)."""
    import symusic

    score = symusic.Score(str(midi_in))
    tracks = [t for t in score.tracks if len(t.notes) and not t.is_drum]
    if not tracks:
        raise DataError(f"{job.source}: no notes")
    rng = _rng(job.seed, job.piece, 1)
    ensemble = "solo" if rng.random() < 0.5 else "mixed"
    if ensemble == "solo":
        programs = [int(rng.choice(PROGRAMS))] * len(tracks)
    else:
        programs = [int(p) for p in rng.choice(PROGRAMS, size=len(tracks))]
    for track, program in zip(tracks, programs, strict=True):
        track.program = program
    tempo_scale = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    for tempo in score.tempos:
        tempo.qpm = tempo.qpm * tempo_scale
    score.tracks = tracks
    timed = score.to("second")
    spare = max(0.0, float(timed.end()) - job.seconds)
    start = float(_rng(job.seed, job.piece, 2).uniform(0.0, spare)) if spare > 0 else 0.0
    window = timed.clip(start, start + job.seconds, clip_end=True).shift_time(-start)
    if not any(len(t.notes) for t in window.tracks):
        raise DataError(f"{job.source}: no notes in the window at {start:.1f} s")
    window.to("tick").dump_midi(str(midi_out))
    return programs, ensemble, tempo_scale, start


def render_piece(job: RenderJob) -> dict[str, str]:
    """Render one piece to ``job.out`` (mono FLAC, peak -1 dBFS) and return its manifest row.

    Raises
    ------
    DataError
        If the score has no notes or renders to silence.
    """
    with tempfile.TemporaryDirectory(prefix="torchmusic-renders-") as tmp:
        raw, played = Path(tmp) / "score.mid", Path(tmp) / "played.mid"
        _score_midi(job.source, raw)
        programs, ensemble, tempo_scale, start_s = _orchestrate(job, raw, played)
        audio = render_midi(played, soundfont=job.soundfont, sample_rate=job.sample_rate)
    audio = audio[: round(job.seconds * job.sample_rate)]  # the reverb tail past the window
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if not peak > 1e-4:
        raise DataError(f"{job.source}: the render is silent")
    audio = (audio * (10 ** (-1 / 20) / peak)).astype(np.float32)
    out = Path(job.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.stem + ".partial.flac")
    sf.write(partial, audio, job.sample_rate, subtype="PCM_16")
    os.replace(partial, out)  # a killed build never leaves a truncated file under the real name
    return _row(job, programs, ensemble, tempo_scale, start_s, len(audio))


def _row(job, programs, ensemble, tempo_scale, start_s, n_samples) -> dict[str, str]:
    return {
        "path": job.out,
        "collection": job.collection,
        "piece": job.piece,
        "programs": " ".join(map(str, programs)),
        "families": " ".join(sorted({GM_FAMILIES[p // 8] for p in programs})),
        "ensemble": ensemble,
        "soundfont": Path(job.soundfont).name,
        "tempo_scale": f"{tempo_scale:.4f}",
        "start_s": f"{start_s:.3f}",
        "duration_s": f"{n_samples / job.sample_rate:.3f}",
        "split": job.split,
    }


def build_renders(
    out_dir: str | os.PathLike[str],
    *,
    count: int = 800,
    seconds: float = 45.0,
    seed: int = 0,
    sample_rate: int = 22050,
    collections: Sequence[str] | None = None,
    soundfonts: Sequence[str | os.PathLike[str]] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Render ``count`` corpus pieces into ``out_dir`` and write ``out_dir/manifest.csv``.

    Resumable: a piece whose file and row sidecar (``.flac.json``) exist is not
    rendered again. A piece that fails (unparsable score, no notes) is
    skipped and listed in ``out_dir/skipped.txt``; the rest are kept.

    Parameters
    ----------
    out_dir : path-like
        Output folder (``audio/<collection>/<piece>.flac`` + ``manifest.csv``).
    count : int > 0
        Pieces to render (round-robin over the collections, seeded).
    seconds : float > 0
        Length of the window cut from each render (shorter pieces are kept whole).
    seed : int
        Seed of the choice, instruments, tempo, soundfont and window.
    sample_rate : int
        Output rate in Hz.
    collections : sequence of str, optional
        music21 corpus folders (default: all but the demo's and the exercises).
    soundfonts : sequence of path-like, optional
        GM soundfonts to draw from per piece (default: the installed ones of
        :data:`DEFAULT_SOUNDFONTS`).
    workers : int, optional
        Worker processes (default: CPUs).
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        The manifest (columns :data:`MANIFEST_COLUMNS`; ``path`` absolute).

    Raises
    ------
    ParameterError
        For a bad count, length or collection.
    DependencyError
        If FluidSynth, music21, symusic or every soundfont is missing.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ParameterError(f"count={count!r} must be a positive integer")
    if not seconds > 0:
        raise ParameterError(f"seconds={seconds!r} must be positive")
    find_fluidsynth()  # fail before any work when FluidSynth is missing
    if soundfonts is None:
        fonts = [f for f in DEFAULT_SOUNDFONTS if Path(f).is_file()]
        if not fonts:
            raise DependencyError(
                "no General MIDI soundfont found: apt-get install fluid-soundfont-gm "
                "timgm6mb-soundfont (or pass soundfonts=...)"
            )
    else:
        fonts = [str(check_soundfont(Path(f))) for f in soundfonts]
    out = Path(out_dir)
    chosen = _interleave(corpus_pieces(collections), seed)[:count]
    jobs = []
    for collection, piece, source in chosen:
        # The full corpus name (extension kept): a piece can exist in two encodings.
        target = out / "audio" / (piece + ".flac")
        font = fonts[int(_rng(seed, piece, 3).integers(len(fonts)))]
        split = piece_split(piece)
        jobs.append(
            RenderJob(
                source,
                collection,
                piece,
                str(target.resolve()),
                seed,
                str(font),
                float(seconds),
                int(sample_rate),
                split,
            )
        )
    rows, skipped = _run(jobs, workers=workers, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.csv"
    partial = out / "manifest.csv.partial"
    with open(partial, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["piece"]))
    os.replace(partial, manifest)
    (out / "skipped.txt").write_text("".join(f"{p}\t{why}\n" for p, why in skipped))
    return manifest


def _run(
    jobs: list[RenderJob], *, workers: int | None, progress: bool
) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    from tqdm import tqdm

    rows: list[dict[str, str]] = []
    skipped: list[tuple[str, str]] = []
    n = workers or os.cpu_count() or 1
    bar = tqdm(total=len(jobs), desc="rendering", unit="piece", disable=not progress)
    with cf.ProcessPoolExecutor(max_workers=n) as pool:
        futures = {pool.submit(_render_or_reuse, job): job for job in jobs}
        for future in cf.as_completed(futures):
            job = futures[future]
            try:
                rows.append(future.result())
            except Exception as exc:
                skipped.append((job.piece, f"{type(exc).__name__}: {str(exc)[:200]}"))
            bar.update(1)
    bar.close()
    return rows, skipped


def _render_or_reuse(job: RenderJob) -> dict[str, str]:
    sidecar = Path(job.out + ".json")
    if Path(job.out).is_file() and sidecar.is_file():
        row = json.loads(sidecar.read_text())
        same = (row.get("piece"), row.get("split"), row.get("soundfont"))
        if same == (job.piece, job.split, Path(job.soundfont).name):
            return {k: str(row[k]) for k in MANIFEST_COLUMNS}
    row = render_piece(job)
    partial = sidecar.with_name(sidecar.name + ".partial")
    partial.write_text(json.dumps(row))
    os.replace(partial, sidecar)  # written after the audio: a sidecar means a complete file
    return row
