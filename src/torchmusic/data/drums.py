"""Drum-hit dataset from Hydrogen's drum kits (Debian package ``hydrogen-drumkits``).

Each kit folder holds a ``drumkit.xml`` naming its instruments (``"Closed HH"``,
``"Pearl Tom 1"``, ``"Kick (Tama Superstar 22\\")"``) and, per instrument, the sample
files of its velocity layers. :func:`hydrogen_drum_samples` maps instrument names to
eight classes (:data:`DRUM_CLASSES`) with ordered keyword rules (:data:`RULES`, plus a
few per-kit :data:`OVERRIDES`); instruments that fit no class (effects, "Zap",
unnamed slots) are left out. :func:`write_drums_manifest` writes the first second of
every mapped sample as a WAV plus a CSV manifest for
:class:`~torchmusic.data.ManifestDataset`, and :func:`kit_disjoint_splits` gives
cross-validation folds in which no kit is ever in both training and test data.

The full mapping table and the kits' licences are in ``docs/drums-dataset.md``.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from torchmusic import audio
from torchmusic.errors import DataError, ParameterError

DEBIAN_PACKAGE = "hydrogen-drumkits"
DEFAULT_ROOT = Path("/usr/share/hydrogen/data/drumkits")
DEFAULT_COPYRIGHT = Path("/usr/share/doc/hydrogen-drumkits/copyright")

DRUM_CLASSES: tuple[str, ...] = (
    "kick",
    "snare",
    "hihat",
    "tom",
    "crash",
    "ride",
    "clap",
    "other_percussion",
)

MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "kit", "instrument", "license")

# Ordered (label, pattern) rules on the lower-cased instrument name; the first match
# wins, and label None leaves the instrument out. Order matters: exclusions first
# (e.g. a "Crash/Ride" cymbal is neither class for sure), then the specific drum
# classes before the broad percussion words ("Snare Roll" must not hit "roll", a
# "Ride Bell" must be a ride before "bell" makes it percussion).
RULES: tuple[tuple[str | None, str], ...] = (
    # Unmappable: effects, synthetic noises, unnamed or numbered slots, cymbals
    # played both ways, non-drums (whistle, water glass, finger snaps), and side
    # sticks / rim clicks, which are snare articulations that sound like wood blocks
    # (either class would be label noise).
    (None, r"\b(fx|zap|noise|whistle|click)\b|water\s*glass|snaps?\b"),
    (None, r"\bstick\b"),
    (None, r"^\s*(\d+)?\s*$|^sample:|^[a-g]#?\d\s*-\s*$"),
    (None, r"crash\s*/\s*ride|ride-crash"),
    ("clap", r"\bclaps?\b"),
    ("kick", r"\bkick|bass\s*drum|bassdrum|\bbd\b"),
    ("hihat", r"hi[- ]?hat|\b(o|c)?hh\b|\bhats?\b"),
    ("ride", r"\bride\b|\bride[- ](bell|cup|bow)"),
    ("crash", r"\bcrash|\bsplash|\bchina\b"),
    ("snare", r"\bsnare|\bsn\d*\b|rim\s*shot"),
    ("tom", r"\btom(s|\d+|hi\d*|low|mid)?\b|floor\s*tom"),
    (
        "other_percussion",
        r"cowbell|tambourine|agogo|maraca|clave|wood\s*block|conga|bongo|djembe|cajon"
        r"|shaker|triangle|guiro|cabasa|timbale|sangban|dununba|kenkeni",
    ),
)
_COMPILED = tuple((label, re.compile(pattern)) for label, pattern in RULES)

# (kit folder, instrument name) -> label or None, for names the rules cannot read.
OVERRIDES: dict[tuple[str, str], str | None] = {
    # Spanish "redoblante" (snare drum); its sample is snare-opaque-2mics_normal-shot1.
    ("ColomboAcousticDrumkit", "redo super opaco"): "snare",
    # The ride cymbal's bell in a kit that also has "Paiste Ride".
    ("The Black Pearl 1.0", "Paiste Bell"): "ride",
    # rumpf's generic "cymbal 1/2" are unnamed cymbal types: neither crash nor ride for sure.
    ("rumpf_kit_z01_h2", "d#4 - cymbal 1"): None,
    ("rumpf_kit_z01_h2", "e4 - cymbal 2"): None,
}


@dataclasses.dataclass(frozen=True)
class DrumSample:
    """One mapped drum sample file.

    Attributes
    ----------
    path : pathlib.Path
        Absolute path of the sample file (WAV, FLAC or AIFF) inside the kit folder.
    label : str
        One of :data:`DRUM_CLASSES`.
    kit : str
        Kit folder name (e.g. ``"BJA_Pacific"``); the group for kit-disjoint splits.
    instrument : str
        Instrument name from ``drumkit.xml`` the label was mapped from.
    license : str
        The kit's licence (from Debian's copyright file, else ``drumkit.xml``).
    """

    path: Path
    label: str
    kit: str
    instrument: str
    license: str


@dataclasses.dataclass(frozen=True)
class KitSplit:
    """One kit-disjoint cross-validation fold.

    Attributes
    ----------
    index : int
        Fold number, from 0.
    train_kits, valid_kits, test_kits : tuple of str
        Disjoint kit sets; every kit of the dataset is in exactly one of them.
    """

    index: int
    train_kits: tuple[str, ...]
    valid_kits: tuple[str, ...]
    test_kits: tuple[str, ...]

    def split_of(self, kit: str) -> str:
        """``"train"``, ``"valid"`` or ``"test"`` for ``kit``; :class:`DataError` if unknown."""
        for name, kits in (
            ("train", self.train_kits),
            ("valid", self.valid_kits),
            ("test", self.test_kits),
        ):
            if kit in kits:
                return name
        raise DataError(f"kit {kit!r} is in no split of fold {self.index}")


def map_instrument(name: str, *, kit: str | None = None) -> str | None:
    """Class of a Hydrogen instrument name, or None when it cannot be mapped.

    Parameters
    ----------
    name : str
        Instrument name as in ``drumkit.xml``.
    kit : str, optional
        Kit folder name, to apply :data:`OVERRIDES`.

    Returns
    -------
    str or None
        One of :data:`DRUM_CLASSES`, or None (left out).

    Examples
    --------
    >>> map_instrument("Sabian Hat Semi-Open"), map_instrument("Zap 1")
    ('hihat', None)
    """
    key = (kit or "", name.strip())
    if key in OVERRIDES:
        return OVERRIDES[key]
    text = name.strip().lower()
    for label, pattern in _COMPILED:
        if pattern.search(text):
            return label
    return None


def hydrogen_drum_samples(
    root: str | os.PathLike[str] = DEFAULT_ROOT,
    *,
    copyright_file: str | os.PathLike[str] | None = DEFAULT_COPYRIGHT,
) -> list[DrumSample]:
    """All mapped samples of the Hydrogen kits under ``root``.

    Every velocity layer's file is one sample. A file used by several instruments
    of a kit (e.g. ``Tom Hi`` and ``Tom Mid`` sharing ``tom_01.flac``) is kept once
    when they agree on the class and dropped when they disagree (its class is
    ambiguous). Layers naming a missing file are skipped.

    Parameters
    ----------
    root : path
        Folder of kit folders, each with a ``drumkit.xml``.
    copyright_file : path or None
        Debian machine-readable copyright file giving each kit's licence; when
        absent (or None), the ``<license>`` text of ``drumkit.xml`` is used.

    Returns
    -------
    list of DrumSample
        Sorted by kit, then file path.

    Raises
    ------
    DataError
        ``root`` is missing (names the Debian package to install) or holds no kit,
        or a ``drumkit.xml`` is not valid XML.

    Examples
    --------
    >>> samples = hydrogen_drum_samples()  # doctest: +SKIP
    >>> len(samples), samples[0].label  # doctest: +SKIP
    (591, 'crash')
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"Hydrogen drum-kit folder {str(root)!r} does not exist; install the Debian "
            f"package {DEBIAN_PACKAGE!r} (apt-get install {DEBIAN_PACKAGE}) or pass root="
        )
    kit_files = sorted(root.glob("*/drumkit.xml"))
    if not kit_files:
        raise DataError(f"{str(root)!r} holds no */drumkit.xml; expected Hydrogen kit folders")
    licences = _debian_licences(copyright_file)
    samples: list[DrumSample] = []
    for xml_path in kit_files:
        samples.extend(_kit_samples(xml_path, licences))
    return samples


def _kit_samples(xml_path: Path, licences: dict[str, str]) -> list[DrumSample]:
    """Mapped, de-duplicated samples of one kit."""
    kit_dir = xml_path.parent
    kit = kit_dir.name
    try:
        tree = ET.parse(xml_path)
    except ET.ParseError as exc:
        raise DataError(f"{xml_path}: not valid XML ({exc})") from None
    root = tree.getroot()
    # Newer kits use a default XML namespace; strip it so one set of tag names works.
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    licence = _kit_licence(kit, root.findtext(f"{ns}name") or kit, root, ns, licences)

    by_file: dict[Path, list[tuple[str, str]]] = defaultdict(list)
    for inst in root.iter(f"{ns}instrument"):
        name = (inst.findtext(f"{ns}name") or "").strip()
        label = map_instrument(name, kit=kit)
        if label is None:
            continue
        for element in inst.iter(f"{ns}filename"):
            if element.text and element.text.strip():
                path = (kit_dir / element.text.strip()).resolve()
                if path.is_file():
                    by_file[path].append((label, name))
    out = []
    for path in sorted(by_file):
        uses = by_file[path]
        if len({label for label, _ in uses}) == 1:
            label, name = uses[0]
            out.append(
                DrumSample(path=path, label=label, kit=kit, instrument=name, license=licence)
            )
    return out


def _kit_licence(
    kit: str, xml_name: str, root: ET.Element, ns: str, licences: dict[str, str]
) -> str:
    """Licence from Debian's copyright stanzas (by archive name), else from drumkit.xml."""
    for candidate in (kit, xml_name):
        for pattern, licence in licences.items():
            if fnmatch.fnmatchcase(f"drumkits/{candidate}.h2drumkit", pattern):
                return licence
    # Debian names some archives without the version suffix of the folder
    # ("circAfrique.h2drumkit" for "circAfrique v4").
    stem = kit.split(" v")[0]
    for pattern, licence in licences.items():
        if fnmatch.fnmatchcase(f"drumkits/{stem}.h2drumkit", pattern):
            return licence
    text = " ".join((root.findtext(f"{ns}license") or "").split())
    return text or "unknown"


def _debian_licences(copyright_file: str | os.PathLike[str] | None) -> dict[str, str]:
    """``{file glob: licence}`` from a Debian DEP-5 copyright file (empty when absent)."""
    if copyright_file is None or not Path(copyright_file).is_file():
        return {}
    licences: dict[str, str] = {}
    # Paragraphs are separated by blank lines; "Files:" may continue on indented lines.
    for paragraph in re.split(r"\n\s*\n", Path(copyright_file).read_text(encoding="utf-8")):
        files = re.search(r"^Files:(.*(?:\n[ \t]+\S.*)*)", paragraph, flags=re.M)
        licence = re.search(r"^License:[ \t]*(.+)$", paragraph, flags=re.M)
        if files and licence:
            for pattern in files.group(1).split():
                licences[pattern] = licence.group(1).strip()
    return licences


def write_drums_manifest(
    out_dir: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] = DEFAULT_ROOT,
    seconds: float = 1.0,
    sr: int = 22050,
    samples: Sequence[DrumSample] | None = None,
) -> Path:
    """Write the first ``seconds`` of every mapped sample as mono WAV, and a manifest.

    Clips shorter than ``seconds`` are zero-padded, so every clip has the same
    length (one training clip per sample). Silent samples (all zero, e.g. kits'
    ``emptySample.flac`` placeholders) are skipped. Existing WAVs are rewritten.

    Parameters
    ----------
    out_dir : path
        Output folder; gets ``audio/<kit>/<file>.wav`` and ``drums.csv``.
    root : path
        Hydrogen kit folder (see :func:`hydrogen_drum_samples`).
    seconds : float > 0
        Length of each clip.
    sr : int > 0
        Sample rate of the written clips.
    samples : sequence of DrumSample, optional
        Samples to write; default ``hydrogen_drum_samples(root)``.

    Returns
    -------
    pathlib.Path
        The manifest ``out_dir/drums.csv`` with columns :data:`MANIFEST_COLUMNS`
        (paths relative to ``out_dir``), for
        ``ManifestDataset(manifest, label_column="label", group_column="kit")``.

    Examples
    --------
    >>> manifest = write_drums_manifest("bench_out/drums")  # doctest: +SKIP
    >>> ManifestDataset(manifest, group_column="kit").classes  # doctest: +SKIP
    ['clap', 'crash', 'hihat', 'kick', 'other_percussion', 'ride', 'snare', 'tom']
    """
    if not (isinstance(seconds, int | float) and np.isfinite(seconds) and seconds > 0):
        raise ParameterError(f"seconds={seconds!r} must be a positive number of seconds")
    if not (isinstance(sr, int) and sr > 0):
        raise ParameterError(f"sr={sr!r} must be a positive integer sample rate")
    if samples is None:
        samples = hydrogen_drum_samples(root)
    if not samples:
        raise DataError("no drum samples to write")
    out = Path(out_dir)
    n = round(seconds * sr)
    rows = []
    used: set[str] = set()
    for s in samples:
        y, _ = audio.load(s.path, sr=sr, mono=True, duration=seconds)
        if not bool(y.abs().max() > 0):
            continue
        clip = np.zeros(n, dtype=np.float32)
        clip[: min(n, y.shape[-1])] = y.numpy()[:n]
        rel = _unique_name(f"audio/{_safe(s.kit)}/{_safe(s.path.stem)}.wav", used)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(out / rel, clip, sr, subtype="FLOAT")
        rows.append(
            {
                "path": rel,
                "label": s.label,
                "kit": s.kit,
                "instrument": s.instrument,
                "license": s.license,
            }
        )
    manifest = out / "drums.csv"
    _write_csv(manifest, rows, MANIFEST_COLUMNS)
    return manifest


def _safe(name: str) -> str:
    """File-name-safe form (spaces and odd characters become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "x"


def _unique_name(rel: str, used: set[str]) -> str:
    base, i = rel, 1
    while rel in used:
        rel = base.replace(".wav", f"_{i}.wav")
        i += 1
    used.add(rel)
    return rel


def _write_csv(path: Path, rows: Sequence[dict[str, str]], columns: Sequence[str]) -> None:
    """Write rows atomically (a killed run never leaves half a manifest)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def kit_disjoint_splits(
    samples: Sequence[DrumSample] | Sequence[str],
    *,
    n_splits: int = 3,
    n_valid_kits: int = 1,
    seed: int = 0,
) -> list[KitSplit]:
    """Kit-disjoint cross-validation folds: each kit is a test kit in exactly one fold.

    Kits are dealt to ``n_splits`` test folds, largest first (after a seeded
    shuffle), each to the fold with the fewest samples so far, which balances
    the folds' sizes. In fold ``i`` the other kits train, except ``n_valid_kits``
    of them held out for validation (early stopping): those covering the most
    classes, ties broken with the seed. No kit is ever in two of train/valid/test.

    Parameters
    ----------
    samples : sequence of DrumSample, or of kit names
        One entry per sample (kit names are counted to weigh kits).
    n_splits : int >= 2
        Number of folds.
    n_valid_kits : int >= 0
        Kits per fold moved from training to validation.
    seed : int
        Same seed, same folds.

    Returns
    -------
    list of KitSplit
        ``n_splits`` folds.

    Raises
    ------
    ParameterError
        Fewer kits than ``n_splits`` (or too few left to train after validation).

    Examples
    --------
    >>> folds = kit_disjoint_splits(["a", "a", "b", "c", "d", "e", "f"], n_splits=3)
    >>> sorted(k for f in folds for k in f.test_kits)
    ['a', 'b', 'c', 'd', 'e', 'f']
    """
    kits = Counter(s if isinstance(s, str) else s.kit for s in samples)
    classes: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        if not isinstance(s, str):
            classes[s.kit].add(s.label)
    if not (isinstance(n_splits, int) and n_splits >= 2):
        raise ParameterError(f"n_splits={n_splits!r} must be an integer >= 2")
    if not (isinstance(n_valid_kits, int) and n_valid_kits >= 0):
        raise ParameterError(f"n_valid_kits={n_valid_kits!r} must be an integer >= 0")
    if len(kits) < n_splits:
        raise ParameterError(
            f"n_splits={n_splits} needs at least {n_splits} kits; got {len(kits)}: {sorted(kits)}"
        )
    rng = np.random.default_rng(seed)
    names = sorted(kits)
    names = [names[i] for i in rng.permutation(len(names))]
    names.sort(key=lambda k: -kits[k])  # stable: equal sizes keep the shuffled order
    folds: list[list[str]] = [[] for _ in range(n_splits)]
    sizes = [0] * n_splits
    for kit in names:
        i = min(range(n_splits), key=lambda j: (sizes[j], j))
        folds[i].append(kit)
        sizes[i] += kits[kit]
    out = []
    for i, test in enumerate(folds):
        rest = sorted(k for k in kits if k not in test)
        if len(rest) <= n_valid_kits:
            raise ParameterError(
                f"fold {i}: {len(rest)} non-test kit(s) leave none to train with "
                f"n_valid_kits={n_valid_kits}"
            )
        # Validation kits covering the most classes (random among equals): a kit of
        # hand drums only would make the validation score, and early stopping, blind
        # to most classes.
        order = rng.permutation(len(rest))
        ranked = sorted(order, key=lambda j: -len(classes[rest[j]]))
        valid = sorted(rest[j] for j in ranked[:n_valid_kits])
        train = tuple(k for k in rest if k not in valid)
        out.append(KitSplit(i, train, tuple(valid), tuple(sorted(test))))
    return out


def full_training_split(
    samples: Sequence[DrumSample], *, n_valid_kits: int = 1, seed: int = 0
) -> KitSplit:
    """All kits for training except ``n_valid_kits`` for validation; no test kits.

    For training a final model once :func:`kit_disjoint_splits` has measured the
    recipe. The validation kits are those covering the most classes and, among
    those, the smallest (the least training data lost); ties broken by ``seed``.

    Parameters
    ----------
    samples : sequence of DrumSample
        The dataset.
    n_valid_kits : int >= 1
        Kits held out for validation.
    seed : int
        Tie-breaking seed.

    Returns
    -------
    KitSplit
        ``index`` 0, empty ``test_kits``.

    Examples
    --------
    >>> full_training_split(hydrogen_drum_samples()).valid_kits  # doctest: +SKIP
    ('rumpf_kit_z01_h2',)
    """
    sizes = Counter(s.kit for s in samples)
    classes: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        classes[s.kit].add(s.label)
    if not (isinstance(n_valid_kits, int) and 1 <= n_valid_kits < len(sizes)):
        raise ParameterError(
            f"n_valid_kits={n_valid_kits!r} must be at least 1 and leave a kit to train "
            f"({len(sizes)} kits)"
        )
    kits = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(kits))
    ranked = sorted(order, key=lambda j: (-len(classes[kits[j]]), sizes[kits[j]]))
    valid = tuple(sorted(kits[j] for j in ranked[:n_valid_kits]))
    train = tuple(k for k in kits if k not in valid)
    return KitSplit(0, train, valid, ())


def write_split_manifest(
    manifest: str | os.PathLike[str],
    split: KitSplit,
    *,
    name: str | None = None,
    balance_train: bool = False,
) -> Path:
    """Copy of a drums manifest with a ``split`` column for one fold, beside it.

    Parameters
    ----------
    manifest : path
        A manifest from :func:`write_drums_manifest`.
    split : KitSplit
        The fold.
    name : str, optional
        File name; default ``drums_fold<index>.csv``.
    balance_train : bool
        Oversample the training rows so every class has as many as the largest
        (repeated rows get a ``track_id`` of ``<path>~<k>``). The classes are very
        unequal (clap: 17 samples, hi-hat: 125), and without balancing a network
        all but ignores the rare ones, which macro-F1 punishes. Validation and
        test rows are never repeated.

    Returns
    -------
    pathlib.Path
        The new manifest (same folder, so relative paths still resolve), usable as
        ``ManifestDataset(path, split="train")``; it has a ``track_id`` column.

    Examples
    --------
    >>> fold = kit_disjoint_splits(hydrogen_drum_samples())[0]  # doctest: +SKIP
    >>> write_split_manifest("bench_out/drums/drums.csv", fold, balance_train=True)  # doctest: +SKIP
    PosixPath('bench_out/drums/drums_fold0.csv')
    """
    manifest = Path(manifest)
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["split"] = split.split_of(row["kit"])
        row["track_id"] = str(Path(row["path"]).with_suffix(""))
    if balance_train:
        rows += _oversampled([r for r in rows if r["split"] == "train"])
    out = manifest.with_name(name or f"drums_fold{split.index}.csv")
    _write_csv(out, rows, (*MANIFEST_COLUMNS, "split", "track_id"))
    return out


def _oversampled(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Extra copies of rows so that every label reaches the largest label's count.

    Copies cycle through a label's rows in order, so each row is repeated at most
    one time more than any other of its label.
    """
    by_label: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_label[row["label"]].append(row)
    target = max((len(v) for v in by_label.values()), default=0)
    extra = []
    for members in by_label.values():
        for i in range(target - len(members)):
            row = dict(members[i % len(members)])
            row["track_id"] = f"{row['track_id']}~{i // len(members) + 1}"
            extra.append(row)
    return extra
