"""The folk corpus: music21's bundled folk collections as MIDI files + metadata.

``build_folk_corpus(out)`` writes::

    out/midi/<collection>/<file>_<position>.mid   one tune each
    out/metadata.csv                              one row per tune (METADATA_COLUMNS)
    out/README.md                                 provenance, counts, licences
    out/.folk-state.jsonl                         resume state (one line per tune)

Tunes are parsed with music21 in worker processes (about 12,600 tunes: a few
minutes on a few cores). A tune music21 cannot read, or one without notes, is
skipped and reported; a tune whose notes equal an earlier tune's is skipped as a
duplicate. The build is resumable: a rerun (after a kill, or with a larger
``limit``) parses only the tunes it has no MIDI file for.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from torchmusic.data.discover import check_output_folder
from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic._mode import FILE_MODE
from torchmusic.symbolic._parallel import run_jobs
from torchmusic.symbolic.folk_meta import COLLECTIONS, TuneRef, corpus_root, scan_collection, subset
from torchmusic.symbolic.midi import write_midi

METADATA_COLUMNS: tuple[str, ...] = (
    "path",  # relative to the corpus folder
    "title",
    "collection",  # essen, oneills, ryans, aird
    "tune_type",
    "region",
    "meter",
    "key",
    "split",  # train, valid, test
    "n_notes",
    "source",  # <music21 corpus folder>/<file>.abc#<position>: provenance
)
STATE_FILE = ".folk-state.jsonl"
# Bump when the MIDI files or labels a tune gets would change: old state is ignored.
BUILD_VERSION = 1
SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}


@dataclasses.dataclass
class FolkReport:
    """What :func:`build_folk_corpus` did.

    Attributes
    ----------
    out : Path
        The corpus folder.
    written : int
        Tunes in ``metadata.csv``.
    parsed, resumed : int
        Tunes parsed in this run / taken from an earlier run's files.
    skipped : list of (str, str)
        ``(source, reason)`` of each tune left out.
    counts : dict of str to dict of str to int
        Tunes per ``collection``, ``tune_type``, ``region``, ``meter`` and ``split``.
    seconds : float
        Wall time of the build.
    """

    out: Path
    written: int
    parsed: int
    resumed: int
    skipped: list[tuple[str, str]]
    counts: dict[str, dict[str, int]]
    seconds: float

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"{self.written} tunes written to {self.out} ({self.parsed} parsed, "
            f"{self.resumed} resumed, {len(self.skipped)} skipped) in {self.seconds:.1f} s",
            "collections: " + _fmt(self.counts["collection"]),
            "splits: " + _fmt(self.counts["split"]),
            "tune types: " + _fmt(self.counts["tune_type"]),
        ]
        reasons = Counter(_reason_kind(r) for _, r in self.skipped)
        if reasons:
            lines.append("skipped: " + _fmt(dict(reasons)))
        return "\n".join(lines)


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _reason_kind(reason: str) -> str:
    return "duplicate" if reason.startswith("duplicate") else reason.split(":", 1)[0]


def _parse_collections(collections: str | Sequence[str] | None) -> list[str]:
    if collections is None:
        return list(COLLECTIONS)
    names = collections.split(",") if isinstance(collections, str) else list(collections)
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in COLLECTIONS]
    if unknown or not names:
        raise ParameterError(
            f"unknown folk collection(s) {', '.join(unknown) or '(none given)'}; "
            f"expected a subset of {', '.join(COLLECTIONS)}"
        )
    return list(dict.fromkeys(names))


def _digest(text: str | bytes, size: int = 8) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.blake2b(data, digest_size=size).hexdigest()


def _build_one(job: tuple[TuneRef, str]) -> dict[str, Any]:
    """Worker: parse one tune and write its MIDI file; errors come back as data."""
    from torchmusic.symbolic.abc_score import abc_to_score

    tune, out = job
    record: dict[str, Any] = {
        "version": BUILD_VERSION,
        "source": tune.source,
        "abc": _digest(tune.abc),
    }
    relative = f"midi/{tune.collection}/{tune.name}.mid"
    try:
        parsed = abc_to_score(tune.abc, meter=tune.meter)
        write_midi(parsed.score, Path(out) / relative)
    except Exception as err:  # music21 raises many kinds; the tune is just skipped
        message = " ".join(str(err).split())[:200]
        record.update(ok=False, reason=f"unparsable: {type(err).__name__}: {message}")
        return record
    notes = parsed.score.tracks[0].notes.numpy()
    content = np.stack([notes["time"], notes["duration"], notes["pitch"].astype(np.int32)])
    record.update(
        ok=True,
        notes=_digest(content.tobytes()),
        row={
            "path": relative,
            "title": tune.title,
            "collection": tune.collection,
            "tune_type": tune.tune_type,
            "region": tune.region,
            "meter": tune.meter,
            "key": parsed.key or "none",
            "split": "",
            "n_notes": parsed.n_notes,
            "source": tune.source,
        },
    )
    return record


def _load_state(path: Path) -> dict[str, dict[str, Any]]:
    """Last record per tune source from the resume file (a torn last line is ignored)."""
    state: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return state
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("version") == BUILD_VERSION:
            state[record.get("source", "")] = record
    return state


def _assign_splits(rows: list[dict[str, Any]], seed: int) -> None:
    """Seeded 80/10/10 split within each collection (in place).

    Tunes are ordered by a seeded hash of their source, so a tune keeps its split
    when other tunes are added (e.g. a larger ``limit``) as long as the counts allow.
    """
    by_collection: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_collection.setdefault(row["collection"], []).append(row)
    for members in by_collection.values():
        members.sort(key=lambda r: _digest(f"{seed}:{r['source']}"))
        n = len(members)
        n_valid = round(n * SPLIT_FRACTIONS["valid"])
        n_test = round(n * SPLIT_FRACTIONS["test"])
        if n >= 3:  # tiny builds (tests, --limit 5) still get every split
            n_valid, n_test = max(1, n_valid), max(1, n_test)
        for i, row in enumerate(members):
            row["split"] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        # mkstemp makes the file private (0600): give it the usual mode.
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _metadata_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METADATA_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    fields = ("collection", "tune_type", "region", "meter", "split")
    return {f: dict(Counter(str(r[f]) for r in rows).most_common()) for f in fields}


def build_folk_corpus(
    out: str | os.PathLike[str],
    *,
    collections: str | Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> FolkReport:
    """Build (or resume) the folk corpus from music21's bundled ABC collections.

    Parameters
    ----------
    out : path-like
        Corpus folder (created).
    collections : str or sequence of str or None
        Subset of ``essen``, ``oneills``, ``ryans``, ``aird`` (a comma-separated
        string works too); None = all four.
    limit : int or None
        At most this many tunes per collection, evenly spaced over it (for tests
        and quick experiments); None = all.
    seed : int
        Seed of the train/valid/test split (80/10/10 within each collection).
    workers : int or None
        Worker processes for parsing (None = CPU count, 0 or 1 = none).
    progress : bool
        Show a progress bar.

    Returns
    -------
    FolkReport

    Raises
    ------
    ParameterError
        For an unknown collection or a bad ``limit``.
    DataError
        If no tune at all could be parsed.

    Examples
    --------
    >>> report = build_folk_corpus("folk", limit=20, progress=False)  # doctest: +SKIP
    >>> report.counts["collection"]  # doctest: +SKIP
    {'essen': 20, 'oneills': 20, 'ryans': 20, 'aird': 20}
    """
    t0 = time.perf_counter()
    names = _parse_collections(collections)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ParameterError(f"limit={limit!r} must be a positive int or None")
    out = check_output_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    root = corpus_root()
    tunes = [t for name in names for t in subset(scan_collection(name, root=root), limit)]

    state_path = out / STATE_FILE
    state = _load_state(state_path)
    records: dict[str, dict[str, Any]] = {}
    todo: list[TuneRef] = []
    for tune in tunes:
        old = state.get(tune.source)
        reusable = old is not None and old.get("abc") == _digest(tune.abc)
        if reusable and (not old["ok"] or (out / old["row"]["path"]).is_file()):
            records[tune.source] = old
        else:
            todo.append(tune)
    resumed = len(records)

    with state_path.open("a", encoding="utf-8") as state_file:
        jobs = [(tune, str(out)) for tune in todo]
        for record in run_jobs(
            _build_one, jobs, workers=workers, progress=progress, desc="folk tunes", unit="tune"
        ):
            records[record["source"]] = record
            state_file.write(json.dumps(record) + "\n")
            state_file.flush()  # a killed build keeps every finished tune

    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    first_with: dict[str, str] = {}
    for tune in tunes:  # job order: the first of identical tunes wins
        record = records[tune.source]
        if not record["ok"]:
            skipped.append((tune.source, record["reason"]))
        elif record["notes"] in first_with:
            skipped.append((tune.source, f"duplicate of {first_with[record['notes']]}"))
        else:
            first_with[record["notes"]] = tune.source
            rows.append(dict(record["row"]))
    if not rows:
        raise DataError(f"no folk tune could be parsed ({len(skipped)} skipped); see {state_path}")
    _assign_splits(rows, seed)

    keep = {row["path"] for row in rows}
    for path in (out / "midi").rglob("*"):
        # Files of duplicates, of tunes outside this build's selection, and .part
        # leftovers of a killed run: the folder holds exactly the metadata's tunes.
        if path.is_file() and path.relative_to(out).as_posix() not in keep:
            path.unlink()
    _write_text_atomic(out / "metadata.csv", _metadata_csv(rows))
    counts = _counts(rows)
    report = FolkReport(
        out=out,
        written=len(rows),
        parsed=len(todo),
        resumed=resumed,
        skipped=skipped,
        counts=counts,
        seconds=time.perf_counter() - t0,
    )
    _write_text_atomic(out / "README.md", _readme(report, names, limit, seed))
    return report


def _readme(report: FolkReport, names: list[str], limit: int | None, seed: int) -> str:
    import music21

    def table(title: str, counts: dict[str, int]) -> str:
        body = "\n".join(f"| {k} | {v} |" for k, v in counts.items())
        return f"| {title} | tunes |\n|---|---|\n{body}\n"

    reasons = Counter(_reason_kind(r) for _, r in report.skipped)
    return (
        "# Folk corpus\n\n"
        "Folk tunes from the ABC collections bundled with music21 "
        f"{music21.__version__}, converted to MIDI by `torchmusic datasets build folk` "
        f"(collections: {', '.join(names)}; limit per collection: {limit}; split seed: {seed}).\n\n"
        f"{report.written} tunes; {len(report.skipped)} skipped "
        f"({', '.join(f'{k}: {v}' for k, v in reasons.items()) or 'none'}).\n\n"
        "`metadata.csv` columns: " + ", ".join(f"`{c}`" for c in METADATA_COLUMNS) + ". "
        "How tune types and regions are derived: see torchmusic's docs/symbolic-data.md.\n\n"
        + table("collection", report.counts["collection"])
        + "\n"
        + table("split", report.counts["split"])
        + "\n"
        + table("tune type", report.counts["tune_type"])
        + "\n## Licences\n\n"
        "The tunes come from music21's corpus (music21 is BSD-licensed; the corpus "
        "files keep their own terms, see music21/corpus/license.txt). The 19th-century "
        "collections (O'Neill's Music of Ireland 1903, Ryan's Mammoth Collection 1883, "
        "Aird's Selection of Airs 1778-1803) are in the public domain; their ABC "
        "transcriptions were contributed by their transcribers (named in the ABC `Z:` "
        "fields). The Essen Folksong Collection's legal status is unclear; it is "
        "distributed with music21 for non-commercial use by permission of "
        "Ewa Dahlig-Turek (EsAC) and Seymour Shlien (ABC conversion): "
        "music21/corpus/essenFolksong/license.txt. Do not use the Essen part "
        "commercially.\n"
    )


def load_folk_metadata(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a folk corpus's ``metadata.csv`` (``n_notes`` as int).

    Raises
    ------
    DataError
        If the file is missing or lacks one of :data:`METADATA_COLUMNS`.

    Examples
    --------
    >>> rows = load_folk_metadata("folk")  # doctest: +SKIP
    >>> rows[0]["tune_type"], rows[0]["split"]  # doctest: +SKIP
    ('ballad', 'train')
    """
    path = Path(folder) / "metadata.csv"
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; build the corpus with `torchmusic datasets build folk`"
        )
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in METADATA_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path} lacks column(s) {', '.join(missing)}")
        rows = list(reader)
    for i, row in enumerate(rows, start=2):
        try:
            row["n_notes"] = int(row["n_notes"])
        except ValueError as err:
            raise DataError(f"{path} line {i}: n_notes={row['n_notes']!r} is not an int") from err
    return rows
