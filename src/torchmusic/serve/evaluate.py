"""Evaluate a classifier model file on labelled audio: clip- and track-level figures, JSON, plots.

Every track is cut into the model's clip-length windows and predicted exactly as
:class:`~torchmusic.serve.Predictor` does for ``torchmusic predict``. Two levels
are scored:

- **clip level**: every window against its track's label(s);
- **track level**: the mean of a track's window probabilities (the prediction
  ``torchmusic predict`` prints).

Single-label models get accuracy, macro-F1, per-class precision / recall / F1
and confusion matrices; multi-label models get ROC-AUC and PR-AUC (macro over
the labels whose truth has both values, see :func:`torchmusic.metrics.multi_label_metrics`)
and F1 at probability 0.5. Unreadable audio files are skipped and listed in
the report. Nothing here imports Lightning or training code.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from torchmusic import audio
from torchmusic.data import ClassFolderDataset, ManifestDataset, Track, TrackDataset
from torchmusic.data import apply_split_lists as _apply_split_lists
from torchmusic.data.discover import check_output_folder
from torchmusic.errors import DataError, ParameterError, TorchMusicError
from torchmusic.features.config import FeatureConfig
from torchmusic.metrics import multi_label_metrics, plot_confusion_matrix, single_label_metrics
from torchmusic.models.modelfile import check_feature_match
from torchmusic.serve.predict import Predictor

#: Multi-label probability at which a label counts as predicted (F1 figures, track list).
THRESHOLD = 0.5


@dataclasses.dataclass
class EvalReport:
    """Outcome of :func:`evaluate_model`.

    Attributes
    ----------
    model : dict
        ``file`` and the model's spec (architecture, labels, feature settings,
        clip length, training-time metrics).
    data : dict
        ``source``, ``split``, ``split_lists``, ``label_column``, window
        ``clip_seconds`` / ``hop_seconds``, counts of tracks, clips and skipped
        files, and ``label_counts`` (tracks per label).
    clip, track : dict
        Metrics at clip and track level: see
        :func:`torchmusic.metrics.single_label_metrics` (``accuracy``,
        ``macro_f1``, ``per_class``, ``confusion``) or
        :func:`torchmusic.metrics.multi_label_metrics` (``roc_auc_macro``,
        ``pr_auc_macro``, ``skipped``, ``macro_f1``, ``micro_f1``, ``per_class``).
    tracks : list of dict
        Per track: ``track_id``, ``path``, ``labels`` (truth), ``predicted``,
        ``n_clips`` and ``probabilities`` (label -> track probability).
    skipped : list of dict
        ``{"path", "error"}`` of every file that could not be evaluated.
    files : dict
        Paths written (``report``, ``confusion``, ``confusion_clip``), when ``out_dir`` was given.
    """

    model: dict[str, Any]
    data: dict[str, Any]
    clip: dict[str, Any]
    track: dict[str, Any]
    tracks: list[dict[str, Any]]
    skipped: list[dict[str, str]]
    files: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def multi_label(self) -> bool:
        """Whether the model is multi-label."""
        return bool(self.model.get("multi_label"))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of everything."""
        return dataclasses.asdict(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON text (what ``report.json`` holds)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def summary(self) -> str:
        """Human-readable tables: headline figures per level, then per-class track-level figures."""
        d = self.data
        head = (
            f"{self.model.get('file')} ({self.model.get('architecture')}) on {d['source']}"
            + (f" [split {d['split']}]" if d.get("split") else "")
            + f": {d['n_tracks']} tracks, {d['n_clips']} clips of {d['clip_seconds']:g} s"
            + (f", {d['n_skipped']} file(s) skipped" if d["n_skipped"] else "")
        )
        if self.multi_label:
            keys = [
                ("ROC-AUC", "roc_auc_macro"),
                ("PR-AUC", "pr_auc_macro"),
                ("macro-F1", "macro_f1"),
            ]
        else:
            keys = [("accuracy", "accuracy"), ("macro-F1", "macro_f1")]
        rows = [
            [level, *(_fmt(getattr(self, level)[key]) for _, key in keys)]
            for level in ("clip", "track")
        ]
        overall = _table(["level", *(name for name, _ in keys)], rows)
        if self.multi_label:
            cols = ["roc_auc", "pr_auc", "precision", "recall", "f1", "support"]
        else:
            cols = ["precision", "recall", "f1", "support"]
        per_class = [
            [label, *(_fmt(scores[c]) for c in cols)]
            for label, scores in self.track["per_class"].items()
        ]
        leak = d.get("leakage") or {}
        if leak.get("seen"):
            head += (
                f"\nnote: {leak['seen']} of these tracks trained or validated the model "
                f"(record: {leak['source']}); the figures are not held-out figures"
            )
        parts = [
            head,
            "",
            overall,
            "",
            "per class (track level)",
            _table(["label", *cols], per_class),
        ]
        if self.multi_label and self.track.get("skipped"):
            parts.append(
                f"AUCs undefined (one truth value only) for: {', '.join(self.track['skipped'])}"
            )
        return "\n".join(parts)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(f"{x!s:<{w}}" for x, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


# -- data -------------------------------------------------------------------------------
def _load_dataset(
    data: str | os.PathLike[str] | TrackDataset, *, label_column: str | None, explicit: bool
) -> TrackDataset:
    if isinstance(data, TrackDataset):
        return data
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(f"data {str(data)!r} does not exist (expected a class folder or manifest)")
    if path.is_dir():
        if explicit and label_column is not None:
            raise ParameterError(
                f"label_column={label_column!r} needs a manifest; {str(path)!r} is a class "
                "folder whose labels are its sub-folder names"
            )
        return ClassFolderDataset(path)
    # check_files=False: a missing file is skipped and listed like a corrupt one.
    return ManifestDataset(path, label_column=label_column or "label", check_files=False)


def _describe(data: Any) -> str:
    """Where the tracks came from: the folder or manifest path."""
    if isinstance(data, TrackDataset):
        return str(getattr(data, "root", None) or getattr(data, "manifest", None) or repr(data))
    return str(data)


def _select_split(
    ds: TrackDataset,
    *,
    split: str | None,
    split_lists: Mapping[str, Any] | None,
) -> tuple[TrackDataset, str | None, dict[str, int]]:
    """Apply split lists, then keep ``split``; returns the tracks, the split and unmatched counts."""
    unmatched: dict[str, int] = {}
    if split_lists:
        # Entries naming files absent from the data are allowed (a partial copy
        # of a corpus), and counted in the report.
        ds, missing = _apply_split_lists(ds, dict(split_lists), allow_missing=True)
        unmatched = {name: len(entries) for name, entries in missing.items()}
        if split is None:
            if len(split_lists) != 1:
                raise ParameterError(
                    f"split lists for {sorted(split_lists)} were given: choose the split to "
                    "evaluate with split=... (--split)"
                )
            split = next(iter(split_lists))
    if split is not None:
        if split not in ds.splits:
            hint = ""
            if isinstance(ds, ClassFolderDataset) and not split_lists:
                hint = "; a class folder has no splits of its own: give split lists (--split-lists)"
            raise DataError(f"no track is in split {split!r}; splits present: {ds.splits}{hint}")
        ds = ds.split(split)
    return ds, split, unmatched


def _check_labels(tracks: list[Track], labels: list[str], *, multi_label: bool, name: str) -> None:
    """The data's labels must be among the model's, and single-label models need one per track."""
    if not multi_label:
        bad = [t for t in tracks if len(t.labels) != 1]
        if bad:
            t = bad[0]
            raise DataError(
                f"model {name} is single-label, but {len(bad)} track(s) do not have exactly one "
                f"label, e.g. {t.track_id!r} with {list(t.labels)}"
            )
    unknown = sorted({lab for t in tracks for lab in t.labels} - set(labels))
    if unknown:
        raise DataError(
            f"the data has label(s) {unknown} that model {name} does not know; the model's "
            f"labels are {labels}"
        )


def _check_features(spec: Any, requested: FeatureConfig | dict | None, *, name: str) -> None:
    if requested is None:
        return
    if isinstance(requested, dict):
        requested = FeatureConfig.from_dict(requested)
    try:
        check_feature_match(spec, requested)
    except DataError as exc:
        raise DataError(f"model {name}: {exc}") from None


#: Split names whose tracks a training run sees: evaluating them is not a held-out claim.
SEEN_SPLITS = ("train", "valid", "val", "validation", "dev")


def _seen_record(spec: Any, source: Path | None) -> tuple[set[str] | None, str | None]:
    """The training run's train + valid digests, and where they were found."""
    from torchmusic.data.splits import seen_digests

    found = seen_digests(spec.extra if isinstance(spec.extra, Mapping) else {})
    if found is not None:
        return found, "model file"
    if source is not None:
        data_json = Path(source).parent / "data.json"
        if data_json.is_file():
            try:
                record = json.loads(data_json.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None, None
            if isinstance(record, Mapping):
                found = seen_digests(record)
                if found is not None:
                    return found, str(data_json)
    return None, None


def check_leakage(
    tracks: list[Track],
    spec: Any,
    source: str | os.PathLike[str] | None,
    *,
    split: str | None,
    allow: bool = False,
    name: str = "the model",
) -> dict[str, Any]:
    """Which of ``tracks`` the model's training run trained or validated on.

    Returns ``{"checked", "source", "held_out", "seen", "examples"}``. Raises
    :class:`DataError` when ``split`` is a held-out split (not ``train`` /
    ``valid``), some of its tracks were seen and ``allow`` is False. Nothing is
    hashed when the model records no tracks (``checked`` False).
    """
    from torchmusic.data.splits import track_digest

    held_out = split is not None and split.lower() not in SEEN_SPLITS
    digests, where = _seen_record(spec, Path(source) if source is not None else None)
    info: dict[str, Any] = {
        "checked": digests is not None,
        "source": where,
        "held_out": held_out,
        "seen": 0,
        "examples": [],
    }
    if digests is None:
        return info
    seen: list[str] = []
    for t in tracks:
        try:
            if track_digest(t.path) in digests:
                seen.append(t.track_id)
        except (OSError, TorchMusicError):
            continue  # unreadable: skipped and listed by the evaluation itself
    info["seen"] = len(seen)
    info["examples"] = seen[:10]
    if seen and held_out and not allow:
        raise DataError(
            f"model {name} was trained or validated on {len(seen)} of the {len(tracks)} "
            f"tracks of split {split!r} (e.g. {seen[:5]}; record: {where}), so its figures "
            "would not be held-out figures. Retrain on a split that keeps them out (train "
            "classify now uses the manifest's split column by default), evaluate another "
            "split, or pass --allow-seen-tracks (allow_seen_tracks=True) to score it anyway"
        )
    return info


# -- evaluation ---------------------------------------------------------------------------
def evaluate_model(
    model_file: str | os.PathLike[str] | Predictor,
    data: str | os.PathLike[str] | TrackDataset,
    *,
    split: str | None = None,
    split_lists: Mapping[str, str | os.PathLike[str]] | None = None,
    label_column: str | None = None,
    hop_seconds: float | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    features: FeatureConfig | dict[str, Any] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    allow_seen_tracks: bool = False,
) -> EvalReport:
    """Score a classifier on labelled audio, per clip and per track.

    Parameters
    ----------
    model_file : path, shipped model name, or Predictor
        The model (a :class:`Predictor` is used as is: its device and hop apply).
    data : path or TrackDataset
        A class-per-folder root, a manifest (CSV/TSV/JSONL), or a dataset.
    split : str, optional
        Evaluate only the tracks of this split (a manifest's split column, or a
        name in ``split_lists``). Default: all tracks, or the only split list given.
    split_lists : mapping, optional
        ``{split: split-list file}`` applied first (e.g. GTZAN's
        ``test=test_filtered.txt``); entries naming absent files are counted in
        the report, not an error.
    label_column : str, optional
        Manifest column of the labels (default: the one recorded at training
        time in the model file, else ``"label"``).
    hop_seconds : float, optional
        Seconds between windows (default: the model's clip length).
    out_dir : path, optional
        Write ``report.json`` and, for single-label models, ``confusion.png``
        (track level) and ``confusion_clip.png`` (clip level) there.
    progress : bool
        Progress bar over tracks (stderr).
    features : FeatureConfig or dict, optional
        The feature settings you expect the model to use; a model trained on
        others is refused (the error lists every differing setting, both values).
    device : str or torch.device
        Where the model runs.
    batch_size : int
        Windows per forward pass.
    allow_seen_tracks : bool
        Score a held-out split (``test``, or any split but ``train`` / ``valid``)
        even when the model's training run trained or validated on some of its
        tracks (research use; the report still counts them). By default that is
        refused: see Notes.

    Returns
    -------
    EvalReport

    Raises
    ------
    DataError
        Unusable model file; feature settings that differ from ``features`` (or
        from ``data.features`` of a dataset); data labels the model does not
        know (both label sets named); several labels on a track for a
        single-label model; an empty split; no readable track at all; an
        ``out_dir`` that is an existing file (checked before any work).
        A model whose training run saw tracks of the held-out split evaluated
        (unless ``allow_seen_tracks``).
    ParameterError
        Several split lists but no ``split``; ``label_column`` with a folder.

    Notes
    -----
    **Leakage check.** A model file written by ``torchmusic train classify``
    records the content digests of its training and validation tracks
    (``spec.extra["seen_tracks"]``; older files: the run folder's ``data.json``
    beside the model file). When ``split`` names a held-out split, every track
    evaluated is hashed and compared: any match is a :class:`DataError` naming
    the tracks, since the figures would not be held-out figures. The same audio
    file under another path or name still matches. ``report.data["leakage"]``
    says what was checked (``checked``, ``source``, ``seen``, ``examples``); a
    model with no record (shipped models, files of other tools) is not checked.

    Examples
    --------
    >>> report = evaluate_model("runs/gtzan/model.safetensors", "gtzan/genres",
    ...                         split_lists={"test": "gtzan_splits/test_filtered.txt"},
    ...                         out_dir="eval")  # doctest: +SKIP
    >>> report.track["accuracy"]  # doctest: +SKIP
    0.72
    """
    # A bad output folder is refused before the work, never after it.
    check_output_folder(out_dir)
    if isinstance(model_file, Predictor):
        predictor = model_file
    else:
        predictor = Predictor(
            model_file, device=device, hop_seconds=hop_seconds, batch_size=batch_size
        )
    spec = predictor.spec
    name = str(predictor.source) if predictor.source is not None else "<in-memory model>"
    _check_features(spec, features, name=name)
    if isinstance(data, TrackDataset) and data.features is not None:
        _check_features(spec, data.features, name=name)
    column = label_column or spec.extra.get("label_column") or None
    ds = _load_dataset(data, label_column=column, explicit=label_column is not None)
    ds, split, unmatched = _select_split(ds, split=split, split_lists=split_lists)
    tracks = ds.tracks
    if not tracks:
        raise DataError(f"no tracks to evaluate in {data!s}")
    labels = list(spec.labels)
    _check_labels(tracks, labels, multi_label=spec.multi_label, name=name)
    leakage = check_leakage(
        tracks, spec, predictor.source, split=split, allow=allow_seen_tracks, name=name
    )

    index = {lab: i for i, lab in enumerate(labels)}
    clip_probs: list[np.ndarray] = []
    clip_truth: list[Any] = []
    track_probs: list[np.ndarray] = []
    track_truth: list[Any] = []
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for track in tqdm(tracks, desc="evaluate", unit="track", disable=not progress):
        try:
            y, _ = audio.load(track.path, sr=predictor.feature.sr, mono=True)
            windows, _ = predictor.window_features(y)
            probs = predictor.predict_windows(windows).numpy().astype(np.float64)
        # One bad file must not cost the others' results (as in predict_paths).
        except (TorchMusicError, OSError, MemoryError) as exc:
            message = (
                str(exc) if isinstance(exc, TorchMusicError) else f"{type(exc).__name__}: {exc}"
            )
            skipped.append({"path": str(track.path), "error": message})
            continue
        if spec.multi_label:
            truth: Any = np.zeros(len(labels), dtype=np.int64)
            truth[[index[lab] for lab in track.labels]] = 1
        else:
            truth = index[track.labels[0]]
        mean = probs.mean(axis=0)
        clip_probs.append(probs)
        clip_truth += [truth] * probs.shape[0]
        track_probs.append(mean)
        track_truth.append(truth)
        if spec.multi_label:
            predicted: Any = [labels[i] for i in np.flatnonzero(mean >= THRESHOLD)]
        else:
            predicted = labels[int(mean.argmax())]
        rows.append(
            {
                "track_id": track.track_id,
                "path": str(track.path),
                "labels": list(track.labels),
                "predicted": predicted,
                "n_clips": int(probs.shape[0]),
                "probabilities": {lab: float(p) for lab, p in zip(labels, mean, strict=True)},
            }
        )
    if not rows:
        first = skipped[0] if skipped else {"path": "-", "error": "-"}
        raise DataError(
            f"none of the {len(tracks)} tracks could be evaluated; first failure: "
            f"{first['path']}: {first['error']}"
        )

    clip_p = np.concatenate(clip_probs)
    track_p = np.stack(track_probs)
    if spec.multi_label:
        clip_m = multi_label_metrics(
            np.stack(clip_truth), clip_p, classes=labels, threshold=THRESHOLD
        )
        track_m = multi_label_metrics(
            np.stack(track_truth), track_p, classes=labels, threshold=THRESHOLD
        )
    else:
        clip_m = single_label_metrics(np.asarray(clip_truth), clip_p.argmax(1), classes=labels)
        track_m = single_label_metrics(np.asarray(track_truth), track_p.argmax(1), classes=labels)

    counts = Counter(lab for r in rows for lab in r["labels"])
    report = EvalReport(
        model={"file": name, **spec.to_dict()},
        data={
            "source": _describe(data),
            "split": split,
            "split_lists": {k: str(v) for k, v in (split_lists or {}).items()},
            "unmatched_split_entries": unmatched,
            "label_column": column if isinstance(ds, ManifestDataset) else None,
            "clip_seconds": predictor.clip_seconds,
            "hop_seconds": predictor.hop_seconds,
            "n_tracks": len(rows),
            "n_clips": int(clip_p.shape[0]),
            "n_skipped": len(skipped),
            "label_counts": {lab: counts[lab] for lab in labels if counts[lab]},
            "leakage": leakage,
        },
        clip=clip_m,
        track=track_m,
        tracks=rows,
        skipped=skipped,
    )
    if out_dir is not None:
        try:
            _write_outputs(report, Path(out_dir), labels=labels)
        except OSError as exc:
            raise DataError(
                f"cannot write the evaluation report to {str(out_dir)!r}: {exc.strerror or exc}"
            ) from None
    return report


def _write_outputs(report: EvalReport, out: Path, *, labels: list[str]) -> None:
    """``report.json`` (written last, atomically, listing the plots) and the confusion PNGs."""
    out.mkdir(parents=True, exist_ok=True)
    if not report.multi_label:
        for key, level, fname in (
            ("confusion", "track", "confusion.png"),
            ("confusion_clip", "clip", "confusion_clip.png"),
        ):
            metrics = getattr(report, level)
            plot_confusion_matrix(
                metrics["confusion"],
                classes=labels,
                path=out / fname,
                title=f"{level} level: accuracy {metrics['accuracy']:.3f}, "
                f"macro-F1 {metrics['macro_f1']:.3f}",
            )
            report.files[key] = str(out / fname)
    path = out / "report.json"
    report.files["report"] = str(path)
    tmp = out / f".report.json.{os.getpid()}.tmp"
    tmp.write_text(report.to_json() + "\n", encoding="utf-8")
    os.replace(tmp, path)
