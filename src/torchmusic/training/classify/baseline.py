"""Fitting the MFCC-statistics baseline (``"mfcc-svm"``) with scikit-learn.

The network itself (:class:`~torchmusic.models.baseline.MFCCStats`) lives with the
other models; this module is its training code: clip statistics of the training
windows, a scikit-learn fit (C chosen on the validation split), and the export to a
model file. ``train_classifier`` calls :func:`fit_baseline` for ``model="mfcc-svm"``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchmusic.errors import DataError, ParameterError
from torchmusic.models.baseline import (
    LOGREG_MAX_ITER,
    MFCCStats,
    MFCCStatsConfig,
    clip_statistics,
)


# -- fitting ------------------------------------------------------------------------------
def fit_sklearn_baseline(
    stats: np.ndarray,
    targets: np.ndarray,
    *,
    classifier: str = "svm",
    C: float = 10.0,
    gamma: float | str = "scale",
) -> tuple[Any, Any]:
    """Fit a ``StandardScaler`` and an RBF ``SVC`` / ``LogisticRegression`` on clip statistics.

    Parameters
    ----------
    stats : numpy.ndarray, shape (n_clips, n_stats)
        :func:`clip_statistics` of the training clips.
    targets : numpy.ndarray of int, shape (n_clips,)
        Class indices; at least two distinct classes.
    classifier, C, gamma
        See :class:`MFCCStatsConfig`. ``gamma="scale"`` / ``"auto"`` are resolved
        to numbers here (scikit-learn's formulas), so they can be stored.

    Returns
    -------
    scaler : sklearn.preprocessing.StandardScaler
    estimator : sklearn.svm.SVC or sklearn.linear_model.LogisticRegression
        The SVC uses ``break_ties=True``, whose ``predict`` is the argmax of the
        scores :class:`MFCCStats` reproduces.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    MFCCStatsConfig(classifier=classifier, C=C, gamma=gamma)  # validates the settings
    stats = np.asarray(stats, dtype=np.float64)
    targets = np.asarray(targets).astype(np.int64)
    if stats.ndim != 2 or stats.shape[0] != targets.shape[0]:
        raise ParameterError(
            f"stats {stats.shape} and targets {targets.shape} must be (n, n_stats) and (n,)"
        )
    if len(np.unique(targets)) < 2:
        raise DataError(
            f"the baseline needs training clips of at least two classes, got only "
            f"{np.unique(targets).tolist()}"
        )
    if not np.isfinite(stats).all():
        raise DataError("the clip statistics hold NaN or infinite values (silent or broken clips?)")
    scaler = StandardScaler().fit(stats)
    x = scaler.transform(stats)
    if classifier == "logreg":
        return scaler, LogisticRegression(C=C, max_iter=LOGREG_MAX_ITER).fit(x, targets)
    if gamma == "scale":
        var = float(x.var())
        gamma = 1.0 / (x.shape[1] * var) if var != 0 else 1.0
    elif gamma == "auto":
        gamma = 1.0 / x.shape[1]
    estimator = SVC(
        kernel="rbf", C=C, gamma=float(gamma), decision_function_shape="ovr", break_ties=True
    )
    return scaler, estimator.fit(x, targets)


def fit_mfcc_stats(
    features: torch.Tensor,
    targets: Any,
    *,
    n_classes: int,
    classifier: str = "svm",
    C: float = 10.0,
    gamma: float | str = "scale",
    delta_width: int = 9,
) -> MFCCStats:
    """Fit the baseline on MFCC clips.

    Parameters
    ----------
    features : torch.Tensor, shape (n_clips, n_mfcc, frames)
        MFCCs of the training clips (e.g. ``FeatureConfig(kind="mfcc").compute``).
    targets : array-like of int, shape (n_clips,)
        Class indices in ``range(n_classes)``.
    n_classes : int
        Size of the label vocabulary.
    classifier, C, gamma, delta_width
        See :class:`MFCCStatsConfig`.

    Returns
    -------
    MFCCStats
        Fitted, in eval mode.

    Examples
    --------
    >>> model = fit_mfcc_stats(torch.randn(20, 20, 44), torch.arange(20) % 2,
    ...                        n_classes=2)  # doctest: +SKIP
    """
    stats = clip_statistics(features.double(), delta_width=delta_width).numpy()
    targets = np.asarray(targets.cpu() if isinstance(targets, torch.Tensor) else targets)
    scaler, estimator = fit_sklearn_baseline(
        stats, targets, classifier=classifier, C=C, gamma=gamma
    )
    model = MFCCStats.from_sklearn(
        scaler,
        estimator,
        n_classes=n_classes,
        n_frames=int(features.shape[-1]),
        delta_width=delta_width,
    )
    if isinstance(gamma, str):
        model.config.gamma = gamma  # keep the user's setting; the number is in model.gamma
    return model


# -- training through train_classifier ------------------------------------------------------
_MODEL_CONFIG_KEYS = ("classifier", "C", "gamma", "delta_width")


def _cfg(cfg: Any, name: str, default: Any) -> Any:
    """``cfg.name``, or ``default`` when absent or None (cfg is a TrainConfig or alike)."""
    value = getattr(cfg, name, None)
    return default if value is None else value


def baseline_feature(feature: Any) -> Any:
    """The MFCC :class:`~torchmusic.features.FeatureConfig` the baseline uses for ``feature``.

    ``feature`` (a FeatureConfig, its dict, or None) keeps its STFT and mel settings;
    a non-MFCC kind (the training default is log-mel) is switched to ``"mfcc"``.
    """
    from torchmusic.features.config import FeatureConfig

    if feature is None:
        return FeatureConfig(kind="mfcc")
    if not isinstance(feature, FeatureConfig):
        feature = FeatureConfig.from_dict(dict(feature))
    if feature.kind != "mfcc":
        feature = dataclasses.replace(feature, kind="mfcc")
    return feature


def _track_windows(dataset: Any, index: int, *, clip_seconds: float, hop_seconds: float) -> Any:
    """Features ``(n_windows, n_bins, frames)`` of the sliding windows of track ``index``.

    The windows of :class:`torchmusic.data.SlidingWindows` (``last="pad"``), read
    through the dataset, so with a feature cache they are sliced from the whole
    track's features exactly as :class:`torchmusic.serve.Predictor` cuts them.
    """
    from torchmusic.data import window_starts

    sr = dataset.sr
    n = round(dataset.duration(index) * sr)
    starts = window_starts(
        n, clip=round(clip_seconds * sr), hop=max(1, round(hop_seconds * sr)), last="pad"
    )
    return torch.stack(
        [dataset.get(index, offset=s / sr, duration=clip_seconds)["features"] for s in starts]
    )


def _window_stats(
    dataset: Any,
    *,
    feature: Any,
    cache_dir: Any,
    clip_seconds: float,
    hop_seconds: float | None,
    delta_width: int,
    failed: list,
    progress: bool,
    desc: str,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Clip statistics, class indices and track ids of every window of ``dataset``'s tracks.

    Tracks whose audio cannot be decoded are appended to ``failed`` and skipped.
    """
    from tqdm.auto import tqdm

    from torchmusic.data import FailedFile, TrackDataset
    from torchmusic.errors import AudioFileError

    tracks = dataset.tracks
    ds = TrackDataset(tracks, classes=dataset.classes, features=feature, cache_dir=cache_dir)
    index = ds.class_to_index
    stats, targets, ids = [], [], []
    for i in tqdm(range(len(ds)), desc=f"mfcc-svm {desc}", unit="track", disable=not progress):
        track = tracks[i]
        if len(track.labels) != 1:
            raise DataError(
                f"track {track.track_id!r} has labels {list(track.labels)}; the MFCC baseline "
                "is single-label (exactly one label per track)"
            )
        try:
            x = _track_windows(
                ds, i, clip_seconds=clip_seconds, hop_seconds=hop_seconds or clip_seconds
            )
        except AudioFileError as exc:
            failed.append(FailedFile(path=track.path, error=str(exc)))
            continue
        stats.append(clip_statistics(x.double(), delta_width=delta_width).numpy())
        targets += [index[track.labels[0]]] * x.shape[0]
        ids += [track.track_id] * x.shape[0]
    if not stats:
        raise DataError(f"no readable audio among the {len(ds)} {desc} tracks")
    return np.concatenate(stats), np.asarray(targets, dtype=np.int64), ids


def _select_c(values: Sequence[float], fit: Any, score: Any) -> float:
    """The ``C`` with the best validation score (ties: the smallest, most regularised)."""
    best = max(sorted(values), key=lambda c: (score(fit(c)), -c))
    return float(best)


def fit_baseline(cfg: Any, train_ds: Any, val_ds: Any = None, *, progress: bool = True) -> Path:
    """Train the ``"mfcc-svm"`` baseline for a training run and save its model file.

    Called by :func:`torchmusic.training.train_classifier` when ``cfg.model ==
    "mfcc-svm"``. Every ``clip_seconds`` window of every training track (the
    windows prediction uses; tracks shorter than a clip give one padded window)
    becomes one training example.

    Parameters
    ----------
    cfg : TrainConfig
        Read: ``feature`` (its kind is switched to ``"mfcc"``, other settings
        kept), ``clip_seconds``, ``val_hop_seconds``, ``out_dir``,
        ``label_column`` and ``model_config``: ``classifier`` (``"svm"`` or
        ``"logreg"``), ``C`` (a number, or a list of numbers: the one with the
        best validation track-level macro-F1 is kept), ``gamma``, ``delta_width``.
    train_ds, val_ds : TrackDataset
        Training and (optional) validation tracks; single-label.
    progress : bool
        Progress bars while computing features.

    Returns
    -------
    pathlib.Path
        ``<out_dir>/model.safetensors``: a Contract-A model file whose spec's
        ``metrics`` hold ``train_accuracy`` and, with ``val_ds``, ``val_accuracy``
        and ``val_macro_f1`` (track level) and ``val_clip_accuracy`` /
        ``val_clip_macro_f1``; ``extra`` lists skipped unreadable files.

    Raises
    ------
    ParameterError
        Unknown ``model_config`` keys, or a multi-label dataset.
    DataError
        Fewer than two classes among the readable training tracks.
    """
    from torchmusic.data import default_cache_dir
    from torchmusic.metrics import aggregate_by_track, single_label_metrics
    from torchmusic.models.modelfile import ClassifierSpec, clip_frames, save_classifier

    options = dict(_cfg(cfg, "model_config", {}))
    unknown = sorted(set(options) - set(_MODEL_CONFIG_KEYS))
    if unknown:
        raise ParameterError(
            f"unknown mfcc-svm setting(s) {unknown}; expected some of {list(_MODEL_CONFIG_KEYS)}"
        )
    if getattr(train_ds, "multi_label", False):
        raise ParameterError(
            "the mfcc-svm baseline is single-label; this dataset is multi-label (use a network)"
        )
    classifier = options.get("classifier", "svm")
    c_setting = options.get("C", 10.0)
    c_grid = [float(c) for c in c_setting] if isinstance(c_setting, list | tuple) else None
    gamma = options.get("gamma", "scale")
    delta_width = int(options.get("delta_width", 9))
    feature = baseline_feature(_cfg(cfg, "feature", None))
    clip = float(_cfg(cfg, "clip_seconds", 3.0))
    val_hop = _cfg(cfg, "val_hop_seconds", None)
    out_dir = Path(_cfg(cfg, "out_dir", "runs/mfcc-svm"))
    cache_dir = _cfg(cfg, "cache_dir", None) or default_cache_dir()
    if c_grid is not None and (val_ds is None or not len(val_ds)):
        raise ParameterError(
            f"model_config.C={c_setting!r} is a grid, which needs a validation split"
        )
    classes = list(train_ds.classes)
    failed: list = []

    common = dict(
        feature=feature,
        cache_dir=cache_dir,
        clip_seconds=clip,
        delta_width=delta_width,
        failed=failed,
        progress=progress,
    )
    x_train, y_train, _ = _window_stats(train_ds, hop_seconds=None, desc="train", **common)
    val = None
    if val_ds is not None and len(val_ds):
        val = _window_stats(val_ds, hop_seconds=val_hop, desc="valid", **common)

    def fit(c: float) -> MFCCStats:
        scaler, est = fit_sklearn_baseline(
            x_train, y_train, classifier=classifier, C=c, gamma=gamma
        )
        model = MFCCStats.from_sklearn(
            scaler,
            est,
            n_classes=len(classes),
            n_frames=clip_frames(clip, feature),
            delta_width=delta_width,
        )
        model.config.gamma = gamma
        return model

    def evaluate(model: MFCCStats, stats: np.ndarray, y: np.ndarray, ids: list[str]) -> dict:
        probs = _stats_probabilities(model, stats)
        clip_m = single_label_metrics(y, probs.argmax(1), classes=classes)
        track_ids, track_p = aggregate_by_track(probs, ids)
        first = dict(zip(ids, y.tolist(), strict=True))
        track_y = np.asarray([first[t] for t in track_ids])
        track_m = single_label_metrics(track_y, track_p.argmax(1), classes=classes)
        return {"clip": clip_m, "track": track_m}

    if c_grid is not None and val is not None:
        chosen = _select_c(c_grid, fit, lambda m: evaluate(m, *val)["track"]["macro_f1"])
        model = fit(chosen)
    else:
        model = fit(float(c_setting))

    train_probs = _stats_probabilities(model, x_train)
    metrics: dict[str, Any] = {
        "train_accuracy": float((train_probs.argmax(1) == y_train).mean()),
        "n_train_clips": len(y_train),
    }
    if val is not None:
        result = evaluate(model, *val)
        metrics.update(
            val_accuracy=result["track"]["accuracy"],
            val_macro_f1=result["track"]["macro_f1"],
            val_clip_accuracy=result["clip"]["accuracy"],
            val_clip_macro_f1=result["clip"]["macro_f1"],
            n_val_clips=len(val[1]),
        )
    if failed:
        warnings.warn(
            f"{len(failed)} unreadable file(s) skipped: "
            + "; ".join(f"{f.path}: {f.error}" for f in failed[:5]),
            stacklevel=2,
        )
    spec = ClassifierSpec(
        architecture="mfcc-svm",
        model_config=dataclasses.asdict(model.config),
        labels=classes,
        multi_label=False,
        feature=feature.to_dict(),
        clip_seconds=clip,
        metrics=metrics,
        extra={
            "label_column": getattr(cfg, "label_column", None),
            "skipped_files": [{"path": str(f.path), "error": f.error} for f in failed],
        },
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = save_classifier(out_dir / "model.safetensors", model, spec)
    return Path(path)


def _stats_probabilities(model: MFCCStats, stats: np.ndarray) -> np.ndarray:
    """Softmax of the model's scores on precomputed (unstandardised) statistics."""
    with torch.no_grad():
        z = (torch.from_numpy(stats) - model.mean) / model.scale
        return torch.softmax(model.classify(z), dim=-1).numpy()
