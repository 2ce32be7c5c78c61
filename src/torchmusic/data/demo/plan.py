"""The seeded decisions of a demo corpus build: instruments, tempi, splits, tune order.

Every decision draws from its own random stream, keyed by the seed and the tune
type's name (not its position), so a class's tracks do not change when another
class is added. What is drawn for a *slot* (track ``i`` of a class: instrument,
tempo, split) does not depend on which tune fills it, so a tune that fails to
parse only changes the tune of its slot.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence

import numpy as np

from torchmusic.data.demo.instruments import INSTRUMENT_FAMILIES

SPLITS: tuple[tuple[str, float], ...] = (("test", 0.15), ("valid", 0.15))  # rest: train
TEMPO_VARIATION = 0.08  # each track is played at the type's tempo times U(0.92, 1.08)

# Stream ids of np.random.default_rng([seed, name, stream]).
_FAMILY_ORDER, _FAMILY_SHUFFLE, _TUNES, _PROGRAMS, _TEMPO, _SPLIT = range(6)


def _rng(seed: int, stream: int, name: str = "") -> np.random.Generator:
    # crc32, not hash(): Python salts str hashes per process.
    return np.random.default_rng([seed, zlib.crc32(name.encode()), stream])


@dataclasses.dataclass(frozen=True)
class Slot:
    """Track ``index`` of class ``tune_type`` before a tune is chosen for it."""

    tune_type: str
    index: int
    family: str
    program: int
    tempo_scale: float
    split: str


def _families(tune_types: Sequence[str], per_class: int, seed: int) -> dict[str, list[str]]:
    """Instrument family of each slot, balanced within each class and overall.

    Each class gets every family ``per_class // n_families`` times; the remaining
    slots take the next families of one seeded rotation, continuing from class to
    class, so family totals differ by at most one. Family and tune type are thus
    (nearly) independent labels.
    """
    names = list(INSTRUMENT_FAMILIES)
    rotation = [names[i] for i in _rng(seed, _FAMILY_ORDER).permutation(len(names))]
    whole, extra = divmod(per_class, len(names))
    out = {}
    for k, tune_type in enumerate(tune_types):
        chosen = names * whole + [rotation[(k * extra + j) % len(names)] for j in range(extra)]
        order = _rng(seed, _FAMILY_SHUFFLE, tune_type).permutation(len(chosen))
        out[tune_type] = [chosen[i] for i in order]
    return out


def _split_names(count: int, rng: np.random.Generator) -> list[str]:
    """Seeded split of ``count`` tracks: 15% test, 15% valid (rounded), rest train."""
    names = ["train"] * count
    order = rng.permutation(count)
    start = 0
    for name, fraction in SPLITS:
        size = int(count * fraction + 0.5)
        for i in order[start : start + size]:
            names[i] = name
        start += size
    return names


def plan_slots(tune_types: Sequence[str], *, per_class: int, seed: int) -> list[Slot]:
    """Instrument, tempo and split of every track of a corpus.

    Parameters
    ----------
    tune_types : sequence of str
        Class names, in manifest order.
    per_class : int
        Tracks per class.
    seed : int
        Seed of every random choice.

    Returns
    -------
    list of Slot
        ``per_class`` slots per type, grouped by type. The split is stratified
        by tune type (70/15/15, rounded).

    Examples
    --------
    >>> slots = plan_slots(["reel", "jig"], per_class=4, seed=0)
    >>> len(slots), slots[0].tune_type
    (8, 'reel')
    """
    families = _families(tune_types, per_class, seed)
    slots = []
    for tune_type in tune_types:
        programs = _rng(seed, _PROGRAMS, tune_type)
        tempo = _rng(seed, _TEMPO, tune_type)
        splits = _split_names(per_class, _rng(seed, _SPLIT, tune_type))
        for i, family in enumerate(families[tune_type]):
            program = int(programs.choice(INSTRUMENT_FAMILIES[family]))
            scale = float(tempo.uniform(1 - TEMPO_VARIATION, 1 + TEMPO_VARIATION))
            slots.append(Slot(tune_type, i, family, program, round(scale, 4), splits[i]))
    return slots


def tune_order(count: int, *, tune_type: str, seed: int) -> list[int]:
    """Seeded order in which a class's candidate tunes are tried.

    Examples
    --------
    >>> sorted(tune_order(3, tune_type="reel", seed=0))
    [0, 1, 2]
    """
    return [int(i) for i in _rng(seed, _TUNES, tune_type).permutation(count)]
