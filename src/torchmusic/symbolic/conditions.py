"""Condition tokens (tune type, key, ...) appended after a tokenizer's vocabulary.

A conditioned language model sees one token per condition field before the music,
e.g. ``[tune_type=reel] [key=D] BOS Bar ...``. Each field also has an "any" value
(:data:`ANY`, "*"), used for a field the caller leaves out and, during training,
for randomly dropped conditions, so one model generates with or without them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from torchmusic.errors import DataError, ParameterError

ANY = "*"


class ConditionVocab:
    """Token ids for condition values, starting at ``offset``.

    Parameters
    ----------
    fields : dict of str to list of str
        Field name -> its values, e.g. ``{"tune_type": ["jig", "reel"]}``. Each
        field gets ``len(values) + 1`` ids: :data:`ANY` first, then the values in
        the order given. Fields keep their order; :meth:`encode` emits one token per
        field in that order.
    offset : int >= 0
        First id, normally the tokenizer's vocabulary size (``len(tok)``).

    Attributes
    ----------
    size : int
        Number of condition ids; a model's vocabulary is ``offset + size``.

    Examples
    --------
    >>> vocab = ConditionVocab({"tune_type": ["jig", "reel"], "key": ["D", "G"]}, offset=300)
    >>> vocab.encode({"tune_type": "reel"})  # key left out -> key=*
    [302, 303]
    >>> vocab.size, vocab.decode([302, 305])
    (6, {'tune_type': 'reel', 'key': 'G'})
    """

    def __init__(self, fields: Mapping[str, Sequence[str]], offset: int) -> None:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ParameterError(f"offset={offset!r} must be an int >= 0 (the tokenizer size)")
        if not isinstance(fields, Mapping) or not fields:
            raise ParameterError(f"fields must be a non-empty dict of lists, got {fields!r}")
        self.offset = offset
        self.fields: dict[str, list[str]] = {}
        self._ids: dict[str, dict[str, int]] = {}
        self._inverse: dict[int, tuple[str, str]] = {}
        next_id = offset
        for field, values in fields.items():
            if not isinstance(field, str) or not field:
                raise ParameterError(f"condition field names must be strings, got {field!r}")
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise ParameterError(f"field {field!r} needs a non-empty list of values")
            values = [str(v) for v in values if str(v) != ANY]
            if len(set(values)) != len(values):
                raise ParameterError(f"field {field!r} lists a value twice: {values}")
            self.fields[field] = values
            self._ids[field] = {}
            for value in [ANY, *values]:
                self._ids[field][value] = next_id
                self._inverse[next_id] = (field, value)
                next_id += 1
        self.size = next_id - offset

    def __repr__(self) -> str:
        shown = {f: len(v) for f, v in self.fields.items()}
        return f"ConditionVocab(offset={self.offset}, size={self.size}, values={shown})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConditionVocab) and self.to_dict() == other.to_dict()

    def encode(
        self, conditions: Mapping[str, str] | None = None, *, strict: bool = True
    ) -> list[int]:
        """One id per field (in field order); missing fields get :data:`ANY`.

        Parameters
        ----------
        conditions : dict of str to str or None
            e.g. ``{"tune_type": "reel", "key": "D"}``.
        strict : bool
            If False, unknown *values* map to :data:`ANY` instead of raising (for
            training rows whose rare values were left out of the vocabulary).

        Raises
        ------
        ParameterError
            For an unknown field, or an unknown value when ``strict``; the message
            lists the valid ones.
        """
        conditions = dict(conditions or {})
        unknown = sorted(set(conditions) - set(self.fields))
        if unknown:
            raise ParameterError(
                f"unknown condition {', '.join(unknown)}; this model is conditioned on "
                f"{', '.join(self.fields) or 'nothing'}"
            )
        ids = []
        for field, table in self._ids.items():
            value = str(conditions.get(field, ANY))
            if value not in table:
                if strict:
                    raise ParameterError(
                        f"unknown {field} {value!r}; valid values: {', '.join(self.fields[field])}"
                    )
                value = ANY
            ids.append(table[value])
        return ids

    def decode(self, ids: Iterable[int]) -> dict[str, str]:
        """Condition values of the condition ids among ``ids`` (other ids ignored)."""
        found = {}
        for i in ids:
            if int(i) in self._inverse:
                field, value = self._inverse[int(i)]
                found[field] = value
        return found

    def is_condition(self, token_id: int) -> bool:
        """Whether ``token_id`` is one of this vocabulary's ids."""
        return self.offset <= int(token_id) < self.offset + self.size

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for model files)."""
        return {"fields": {f: list(v) for f, v in self.fields.items()}, "offset": self.offset}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConditionVocab:
        """Inverse of :meth:`to_dict`; :class:`DataError` for a malformed dict."""
        if not isinstance(d, Mapping) or "fields" not in d or "offset" not in d:
            raise DataError(
                f"not a condition vocabulary: expected 'fields' and 'offset', got {d!r}"
            )
        try:
            return cls(d["fields"], int(d["offset"]))
        except ParameterError as err:
            raise DataError(f"malformed condition vocabulary: {err}") from err

    @classmethod
    def from_metadata(
        cls,
        rows: Iterable[Mapping[str, Any]],
        fields: Sequence[str],
        offset: int,
        *,
        min_count: int = 1,
    ) -> ConditionVocab:
        """Build the vocabulary from metadata rows (e.g. the folk corpus's).

        Values seen fewer than ``min_count`` times are left out (encode them with
        ``strict=False``). Values are sorted by name, so the ids do not depend on
        row order.

        Examples
        --------
        >>> rows = [{"tune_type": "reel"}, {"tune_type": "jig"}, {"tune_type": "reel"}]
        >>> ConditionVocab.from_metadata(rows, ["tune_type"], 10).fields
        {'tune_type': ['jig', 'reel']}
        """
        rows = list(rows)
        values: dict[str, list[str]] = {}
        for field in fields:
            counts = Counter(str(r[field]) for r in rows if r.get(field) not in (None, ""))
            kept = sorted(v for v, n in counts.items() if n >= min_count and v != ANY)
            if not kept:
                raise DataError(f"no values of condition {field!r} in the metadata")
            values[field] = kept
        return cls(values, offset)
