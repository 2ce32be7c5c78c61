"""Implicit-feedback listening data: users x items play counts, item names and tags.

:class:`ListeningData` is what every recommender is fitted on and what the splits
cut up; :func:`load_lastfm` reads the HetRec 2011 Last.fm-2k files into one.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from torchmusic.errors import DataError, ParameterError

LASTFM_FILES = ("artists.dat", "user_artists.dat", "tags.dat", "user_taggedartists.dat")


@dataclasses.dataclass(frozen=True, eq=False)
class ListeningData:
    """Play counts of users x items, item names and (user, item, tag) assignments.

    Rows and columns are positions ("rows" of users, "items" by column); ids and
    names are what users see. Splits keep every user and item (so positions mean
    the same in train and test) and only drop interactions.

    Attributes
    ----------
    users : np.ndarray, shape (n_users,), str
        User ids.
    items : np.ndarray, shape (n_items,), str
        Item ids (Last.fm artist ids).
    item_names : np.ndarray, shape (n_items,), str
        Display names (artist names).
    plays : scipy.sparse.csr_matrix, shape (n_users, n_items), float32
        Play counts; an explicit entry is an interaction.
    tags : np.ndarray, shape (n_tags,), str
        Tag names.
    tag_assignments : np.ndarray, shape (n_assignments, 3), int64
        ``(user row, item column, tag index)`` triples: who tagged what with what.

    Examples
    --------
    >>> data = ListeningData(
    ...     users=np.array(["u1", "u2"]), items=np.array(["a", "b", "c"]),
    ...     item_names=np.array(["A", "B", "C"]),
    ...     plays=sp.csr_matrix(np.array([[3, 0, 1], [0, 2, 0]], dtype=np.float32)),
    ...     tags=np.array(["rock"]), tag_assignments=np.array([[0, 0, 0]]),
    ... )
    >>> data.n_users, data.n_items, data.nnz
    (2, 3, 3)
    >>> data.item_tags.toarray()
    array([[1.],
           [0.],
           [0.]], dtype=float32)
    """

    users: np.ndarray
    items: np.ndarray
    item_names: np.ndarray
    plays: sp.csr_matrix
    tags: np.ndarray = dataclasses.field(default_factory=lambda: np.array([], dtype=str))
    tag_assignments: np.ndarray = dataclasses.field(
        default_factory=lambda: np.zeros((0, 3), dtype=np.int64)
    )

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise the fields once, here
        for name in ("users", "items", "item_names", "tags"):
            set_(self, name, np.asarray(getattr(self, name)).astype(str))
        if self.item_names.shape != self.items.shape:
            raise DataError(
                f"item_names has {self.item_names.size} entries for {self.items.size} items"
            )
        for name in ("users", "items"):
            ids = getattr(self, name)
            if len(np.unique(ids)) != ids.size:
                raise DataError(f"{name} contain duplicate ids")
        plays = sp.csr_matrix(self.plays, dtype=np.float32)
        plays.sum_duplicates()
        plays.eliminate_zeros()
        if plays.shape != (self.users.size, self.items.size):
            raise DataError(
                f"plays has shape {plays.shape}, expected (n_users, n_items) = "
                f"({self.users.size}, {self.items.size})"
            )
        if plays.nnz and (plays.data.min() < 0 or not np.isfinite(plays.data).all()):
            raise DataError("plays must be finite and non-negative")
        set_(self, "plays", plays)
        ta = np.asarray(self.tag_assignments, dtype=np.int64).reshape(-1, 3)
        limits = (self.users.size, self.items.size, self.tags.size)
        for col, (limit, what) in enumerate(zip(limits, ("user", "item", "tag"), strict=True)):
            if ta.size and (ta[:, col].min() < 0 or ta[:, col].max() >= limit):
                raise DataError(f"tag_assignments holds a {what} index outside 0..{limit - 1}")
        set_(self, "tag_assignments", ta)

    # -- sizes ---------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return int(self.users.size)

    @property
    def n_items(self) -> int:
        return int(self.items.size)

    @property
    def n_tags(self) -> int:
        return int(self.tags.size)

    @property
    def nnz(self) -> int:
        """Number of (user, item) interactions."""
        return int(self.plays.nnz)

    @cached_property
    def item_tags(self) -> sp.csr_matrix:
        """How often each item got each tag: csr ``(n_items, n_tags)`` float32 counts."""
        ta = self.tag_assignments
        counts = sp.csr_matrix(
            (np.ones(len(ta), np.float32), (ta[:, 1], ta[:, 2])),
            shape=(self.n_items, max(self.n_tags, 0)),
        )
        counts.sum_duplicates()
        return counts

    @cached_property
    def listeners(self) -> np.ndarray:
        """Number of users who played each item, shape ``(n_items,)`` int64."""
        return np.bincount(self.plays.indices, minlength=self.n_items).astype(np.int64)

    # -- ids -> positions ----------------------------------------------------------------
    @cached_property
    def _user_rows(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.users.tolist())}

    @cached_property
    def _item_cols(self) -> dict[str, int]:
        return {it: i for i, it in enumerate(self.items.tolist())}

    @cached_property
    def _name_cols(self) -> dict[str, int]:
        # Lower-cased names; the first item of a duplicated name wins.
        out: dict[str, int] = {}
        for i, name in enumerate(self.item_names.tolist()):
            out.setdefault(name.casefold(), i)
        return out

    def user_index(self, user: Any) -> int:
        """Row of user id ``user`` (an int id is taken as its text).

        Raises
        ------
        ParameterError
            ``user`` is not one of ``users``.
        """
        row = self._user_rows.get(str(user))
        if row is None:
            lo, hi = (str(self.users[0]), str(self.users[-1])) if self.n_users else ("-", "-")
            raise ParameterError(
                f"unknown user {user!r}: not among the {self.n_users} users of the training "
                f"data (ids such as {lo!r} ... {hi!r})"
            )
        return row

    def item_index(self, item: Any) -> int:
        """Column of an item given by id or (case-insensitive) name.

        Raises
        ------
        DataError
            No item has that id or name; the message suggests close names.
        """
        key = str(item)
        col = self._item_cols.get(key)
        if col is None:
            col = self._name_cols.get(key.casefold())
        if col is None:
            close = difflib.get_close_matches(
                key.casefold(), list(self._name_cols), n=3, cutoff=0.6
            )
            names = [str(self.item_names[self._name_cols[c]]) for c in close]
            hint = f"; did you mean {', '.join(map(repr, names))}?" if names else ""
            raise DataError(f"unknown item {item!r}: no item has this id or name{hint}")
        return col

    # -- derived data --------------------------------------------------------------------
    def replace(self, **changes: Any) -> ListeningData:
        """A copy with some fields changed (derived caches are recomputed)."""
        return dataclasses.replace(self, **changes)

    def head(self, n_users: int) -> ListeningData:
        """The first ``n_users`` users, the items they played and their own tag assignments.

        A small but real slice for tests and quick experiments.
        """
        if not isinstance(n_users, int) or n_users < 1:
            raise ParameterError(f"n_users={n_users!r} must be a positive int")
        plays = self.plays[:n_users]
        keep = np.flatnonzero(np.diff(plays.tocsc().indptr) > 0)
        new_col = np.full(self.n_items, -1, np.int64)
        new_col[keep] = np.arange(keep.size)
        ta = self.tag_assignments
        ta = ta[(ta[:, 0] < n_users) & (new_col[ta[:, 1]] >= 0)]
        ta = np.column_stack([ta[:, 0], new_col[ta[:, 1]], ta[:, 2]])
        return ListeningData(
            users=self.users[:n_users],
            items=self.items[keep],
            item_names=self.item_names[keep],
            plays=plays[:, keep],
            tags=self.tags,
            tag_assignments=ta,
        )

    def summary(self) -> dict[str, int]:
        """Sizes as a dict (users, items, interactions, tags, tag assignments)."""
        return {
            "users": self.n_users,
            "items": self.n_items,
            "interactions": self.nnz,
            "tags": self.n_tags,
            "tag_assignments": len(self.tag_assignments),
        }


# -- Last.fm-2k ---------------------------------------------------------------------------
def _read_lines(path: Path) -> list[str]:
    # tags.dat is mostly UTF-8 with a few Latin-1 lines (e.g. "tropic\xe1lia"), so
    # each line is decoded on its own: UTF-8 first, Latin-1 (never fails) second.
    out = []
    with open(path, "rb") as f:
        for raw in f:
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(raw.decode("latin-1"))
    return [line.rstrip("\r\n") for line in out]


_INT64_MAX = np.iinfo(np.int64).max


def _int_table(path: Path, n_cols: int) -> np.ndarray:
    """Integer columns of a tab-separated file, skipping a header line if present.

    Every line is checked on its own, so a bad one is named by its line number: fewer
    than ``n_cols`` cells, a cell that is not a non-negative integer, or a number
    too large for 64 bits (a 20-digit play count).
    """
    lines = _read_lines(path)
    first = 1
    if lines and not lines[0].split("\t")[0].strip().isdigit():
        lines, first = lines[1:], 2  # header ("userID\tartistID..." or "//userID...")
    rows: list[list[int]] = []
    for line_no, line in enumerate(lines, first):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < n_cols:
            raise DataError(
                f"{path} is malformed: line {line_no} has {len(cells)} tab-separated "
                f"column(s); expected {n_cols} integers, got {line[:80]!r}"
            )
        row = []
        for cell in cells[:n_cols]:
            text = cell.strip()
            if not text.isdigit():
                raise DataError(
                    f"{path} is malformed: line {line_no}: {text[:40]!r} is not a non-negative "
                    f"integer; expected {n_cols} tab-separated integer columns"
                )
            value = int(text)
            if value > _INT64_MAX:
                raise DataError(
                    f"{path} is malformed: line {line_no}: the number {text[:40]} is too large; expected an "
                    f"integer below 2**63 ({_INT64_MAX})"
                )
            row.append(value)
        rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(-1, n_cols)


def _id_name_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    ids, names = [], []
    for n, line in enumerate(_read_lines(path), 1):
        parts = line.split("\t")
        if not parts[0].strip().isdigit():
            if n == 1:
                continue  # header
            raise DataError(f"{path}:{n} is malformed: expected 'id<TAB>name', got {line!r}")
        if len(parts) < 2:
            raise DataError(f"{path}:{n} is malformed: expected 'id<TAB>name', got {line!r}")
        if int(parts[0]) > _INT64_MAX:
            raise DataError(
                f"{path}:{n}: the id {parts[0][:40]} is too large; expected below 2**63"
            )
        ids.append(int(parts[0]))
        names.append(parts[1])
    return np.array(ids, dtype=np.int64), np.array(names, dtype=str)


def load_lastfm(path: str | os.PathLike[str]) -> ListeningData:
    """Read the HetRec 2011 Last.fm-2k dataset (``hetrec2011-lastfm-2k``).

    Parameters
    ----------
    path : str or os.PathLike
        Folder with ``artists.dat``, ``user_artists.dat``, ``tags.dat`` and
        ``user_taggedartists.dat`` (tab-separated, as distributed).

    Returns
    -------
    ListeningData
        Users sorted by id (1,892), items = the artists of ``artists.dat`` in file
        order (17,632), play counts from ``user_artists.dat`` (92,834) and the tag
        assignments of ``user_taggedartists.dat`` whose artist is in ``artists.dat``
        (about 0.8 % name artists missing from it and are dropped).

    Raises
    ------
    DataError
        A file is missing or malformed, or plays name an unknown artist.

    Examples
    --------
    >>> data = load_lastfm("../shared/data/lastfm_2k")  # doctest: +SKIP
    >>> data.summary()  # doctest: +SKIP
    {'users': 1892, 'items': 17632, 'interactions': 92834, 'tags': 11946, ...}
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"Last.fm data folder {str(root)!r} does not exist")
    missing = [name for name in LASTFM_FILES if not (root / name).is_file()]
    if missing:
        raise DataError(
            f"{str(root)!r} lacks {', '.join(missing)}; expected the HetRec 2011 Last.fm-2k "
            f"files {', '.join(LASTFM_FILES)}"
        )
    artist_ids, artist_names = _id_name_table(root / "artists.dat")
    tag_ids, tag_names = _id_name_table(root / "tags.dat")
    ua = _int_table(root / "user_artists.dat", 3)
    uta = _int_table(root / "user_taggedartists.dat", 3)

    col_of = {a: i for i, a in enumerate(artist_ids.tolist())}
    cols = np.array([col_of.get(a, -1) for a in ua[:, 1].tolist()], dtype=np.int64)
    if (cols < 0).any():
        bad = ua[cols < 0, 1][:5].tolist()
        raise DataError(
            f"{root / 'user_artists.dat'} names artists missing from artists.dat: {bad}"
        )
    users = np.unique(np.concatenate([ua[:, 0], uta[:, 0]]))
    rows = np.searchsorted(users, ua[:, 0])
    plays = sp.csr_matrix(
        (ua[:, 2].astype(np.float32), (rows, cols)), shape=(users.size, artist_ids.size)
    )
    tag_col = {t: i for i, t in enumerate(tag_ids.tolist())}
    t_items = np.array([col_of.get(a, -1) for a in uta[:, 1].tolist()], dtype=np.int64)
    t_tags = np.array([tag_col.get(t, -1) for t in uta[:, 2].tolist()], dtype=np.int64)
    ok = (t_items >= 0) & (t_tags >= 0)
    assignments = np.column_stack([np.searchsorted(users, uta[ok, 0]), t_items[ok], t_tags[ok]])
    return ListeningData(
        users=users.astype(str),
        items=artist_ids.astype(str),
        item_names=artist_names,
        plays=plays,
        tags=tag_names,
        tag_assignments=assignments,
    )
