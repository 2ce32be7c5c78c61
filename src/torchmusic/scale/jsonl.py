"""JSON Lines result files that a killed job continues.

A folder job writes one JSON record per file as soon as the file is done
(``{"path": ..., ...}``, or ``{"path": ..., "error": ...}`` for a failure), flushed
at once, so ``kill -9`` loses at most the files in flight. Opening the same file
again reads the paths already recorded (:attr:`JsonlResults.done`), so the job skips
them and appends the rest. A last line torn by the kill (no newline, or not valid
JSON) is cut off and its file is done again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from torchmusic.errors import DataError, ParameterError


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The complete records of a JSON Lines file (a torn last line is left out).

    Raises
    ------
    DataError
        A line other than the last is not a JSON object with a ``path``.

    Examples
    --------
    >>> [r["path"] for r in read_records("results.jsonl")]  # doctest: +SKIP
    ['music/a.ogg', 'music/b.ogg']
    """
    records, _ = _scan(Path(path))
    return records


def _scan(path: Path) -> tuple[list[dict[str, Any]], int]:
    """``(records, bytes of the complete lines)``."""
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    good = 0
    lines = data.split(b"\n")
    # The piece after the last newline is complete only if it is empty.
    for i, line in enumerate(lines[:-1]):
        try:
            record = json.loads(line)
        except ValueError as exc:
            if i == len(lines) - 2 and not lines[-1]:
                break  # a torn last line that happens to end in a newline: redo it
            raise DataError(
                f"{str(path)!r} line {i + 1} is not JSON ({exc}); "
                "not a torchmusic result file? Use another file or --restart"
            ) from exc
        if not isinstance(record, dict) or "path" not in record:
            raise DataError(
                f"{str(path)!r} line {i + 1} is not a result record (no 'path'): {line[:80]!r}"
            )
        records.append(record)
        good += len(line) + 1
    return records, good


class JsonlResults:
    """An append-only JSON Lines result file, resumed where a killed run stopped.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.jsonl`` file (created with its folder if missing).
    restart : bool
        Start over: an existing file is emptied.

    Attributes
    ----------
    done : set of str
        ``path`` of every record already in the file.
    errors : dict of str to str
        ``path -> error`` of the records that are failures.
    records : int
        Records in the file (read + written).

    Examples
    --------
    >>> with JsonlResults("results.jsonl") as out:  # doctest: +SKIP
    ...     for f in files:
    ...         if str(f) not in out.done:
    ...             out.write({"path": str(f), "labels": ...})
    """

    def __init__(self, path: str | os.PathLike[str], *, restart: bool = False) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".jsonl":
            raise ParameterError(f"path={str(path)!r} must end in .jsonl")
        self.done: set[str] = set()
        self.errors: dict[str, str] = {}
        self.records = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if restart or not self.path.exists():
                self._file: IO[bytes] = open(self.path, "wb")  # closed in close()
                return
            records, good = _scan(self.path)
            self._file = open(self.path, "r+b")  # closed in close()
            self._file.truncate(good)  # drop a torn last line
            self._file.seek(good)
        except OSError as exc:
            raise DataError(f"cannot open {str(self.path)!r}: {exc.strerror or exc}") from exc
        self.done = {str(r["path"]) for r in records}
        self.errors = {str(r["path"]): str(r["error"]) for r in records if "error" in r}
        self.records = len(records)

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` (a JSON object with a ``path``) as one line, flushed at once."""
        if "path" not in record:
            raise ParameterError(f"record {record!r} has no 'path'")
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        # One write of the whole line, flushed: a kill leaves whole lines and at most
        # one torn last line, which the next open drops.
        self._file.write(line.encode("utf-8"))
        self._file.flush()
        self.done.add(str(record["path"]))
        if "error" in record:
            self.errors[str(record["path"])] = str(record["error"])
        self.records += 1

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> JsonlResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
