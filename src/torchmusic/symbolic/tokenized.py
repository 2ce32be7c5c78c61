"""Tokenise a whole MIDI corpus (in worker processes) and keep the ids in memory.

Bad files (corrupt, empty, drums only, no notes in the tokenizer's range) are
skipped and listed in :attr:`TokenizedCorpus.failures`; they never stop the batch.
A tokenised corpus can be saved to one ``.npz`` file and loaded back, so a
training run tokenises once.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path
from typing import Any

import miditok
import numpy as np

from torchmusic.errors import DataError, ParameterError, TorchMusicError
from torchmusic.symbolic._parallel import run_jobs
from torchmusic.symbolic.corpus import SPLITS, MidiCorpus
from torchmusic.symbolic.midi import read_midi
from torchmusic.symbolic.tokenize import encode, tokenizer_from_dict, tokenizer_to_dict


@dataclasses.dataclass
class TokenizedCorpus:
    """Token ids per piece, with each piece's metadata row.

    Attributes
    ----------
    ids : list of np.ndarray of int32, each shape (n_tokens,)
        No BOS/EOS (added by :class:`~torchmusic.symbolic.chunks.TokenChunks`).
    metadata : list of dict
        The corpus rows of the pieces (``path``, ``name``, ``split``, labels...).
    failures : list of (str, str)
        ``(path, reason)`` of each file that was skipped.
    tokenizer : dict or None
        :func:`~torchmusic.symbolic.tokenize.tokenizer_to_dict` of the tokenizer used.
    """

    ids: list[np.ndarray]
    metadata: list[dict[str, Any]]
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    tokenizer: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.metadata):
            raise ParameterError(
                f"{len(self.ids)} id arrays but {len(self.metadata)} metadata rows"
            )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_tokens(self) -> int:
        """Tokens over all pieces."""
        return int(sum(a.size for a in self.ids))

    def split(self, name: str) -> TokenizedCorpus:
        """The pieces of one split; failures are kept for reporting."""
        if name not in SPLITS:
            raise ParameterError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        keep = [i for i, m in enumerate(self.metadata) if m.get("split") == name]
        return TokenizedCorpus(
            [self.ids[i] for i in keep],
            [self.metadata[i] for i in keep],
            list(self.failures),
            self.tokenizer,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to one ``.npz`` (ids concatenated + offsets; metadata as JSON)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lengths = np.array([a.size for a in self.ids], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat = np.concatenate(self.ids).astype(np.int32) if self.ids else np.zeros(0, np.int32)
        extra = {"metadata": self.metadata, "failures": self.failures, "tokenizer": self.tokenizer}
        part = path.with_name(f".{path.name}.part.npz")
        np.savez(part, ids=flat, offsets=offsets, extra=np.array(json.dumps(extra, default=str)))
        os.replace(part, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TokenizedCorpus:
        """Inverse of :meth:`save`; :class:`DataError` for a file that is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                flat, offsets = data["ids"], data["offsets"]
                extra = json.loads(str(data["extra"]))
        except (OSError, KeyError, ValueError) as err:
            raise DataError(f"{path} is not a saved TokenizedCorpus: {err}") from err
        ids = [flat[a:b].astype(np.int32) for a, b in itertools.pairwise(offsets)]
        failures = [tuple(f) for f in extra["failures"]]
        return cls(ids, extra["metadata"], failures, extra["tokenizer"])  # type: ignore[arg-type]


_WORKER_TOKENIZER: list[miditok.MusicTokenizer] = []


def _init_worker(tok_dict: dict[str, Any]) -> None:
    # Rebuilt from its JSON form in each worker: miditok objects are large to pickle.
    _WORKER_TOKENIZER[:] = [tokenizer_from_dict(tok_dict)]


def _encode_file(path: str) -> np.ndarray | str:
    try:
        score = read_midi(path)
        return np.asarray(encode(score, _WORKER_TOKENIZER[0], source=path), dtype=np.int32)
    except TorchMusicError as err:
        return str(err)
    except Exception as err:  # miditok/symusic internals on odd files: skip, report
        return f"{path}: {type(err).__name__}: {err}"


def tokenize_corpus(
    corpus: MidiCorpus,
    tok: miditok.MusicTokenizer,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> TokenizedCorpus:
    """Encode every file of a corpus; bad files are skipped and reported.

    Parameters
    ----------
    corpus : MidiCorpus
    tok : miditok.MusicTokenizer
    workers : int or None
        Worker processes (None = CPU count; 0 or 1 = none).
    progress : bool
        Show a progress bar.

    Returns
    -------
    TokenizedCorpus
        Pieces in corpus order, without the failed files.

    Examples
    --------
    >>> from torchmusic.symbolic import MidiCorpus, build_tokenizer
    >>> data = tokenize_corpus(MidiCorpus.from_folder("folk"), build_tokenizer())  # doctest: +SKIP
    >>> len(data.failures)  # doctest: +SKIP
    0
    """
    if not isinstance(corpus, MidiCorpus):
        raise ParameterError(f"expected a MidiCorpus, got {type(corpus).__name__}")
    tok_dict = tokenizer_to_dict(tok)
    paths = [str(p) for p in corpus.paths]
    ids: list[np.ndarray] = []
    metadata: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    results = run_jobs(
        _encode_file,
        paths,
        workers=workers,
        progress=progress,
        desc="tokenize",
        initializer=_init_worker,
        initargs=(tok_dict,),
    )
    for entry, result in zip(corpus.entries, results, strict=True):
        if isinstance(result, str):
            failures.append((entry["path"], result))
        else:
            ids.append(result)
            metadata.append(entry)
    return TokenizedCorpus(ids, metadata, failures, tok_dict)
