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


def fit_baseline(
    train_ds: Any,
    val_ds: Any = None,
    *args: Any,
    out_dir: str | Path | None = None,
    feature: Any = None,
    clip_seconds: float = 3.0,
    val_hop_seconds: float | None = None,
    cache_dir: str | Path | None = None,
    model_config: dict[str, Any] | None = None,
    label_column: str | None = None,
    progress: bool = True,
) -> Path:
    """Train the ``"mfcc-svm"`` baseline and save its model file.

    Called by :func:`torchmusic.training.train_classifier` for ``model="mfcc-svm"``.
    Every ``clip_seconds`` window of every training track (the windows prediction
    uses; tracks shorter than a clip give one padded window) is one example.

    Parameters
    ----------
    train_ds, val_ds : TrackDataset
        Training and (optional) validation tracks; single-label.
    out_dir : str or Path
        Folder of the model file (``out_dir/model.safetensors``).
    feature : FeatureConfig, dict or None
        Feature settings; the kind is switched to ``"mfcc"``, others are kept.
    clip_seconds : float
        Window length of the statistics (the model's clip length).
    val_hop_seconds : float or None
        Hop of the validation windows (default: ``clip_seconds``).
    cache_dir : str, Path or None
        Feature cache (default: :func:`torchmusic.data.default_cache_dir`).
    model_config : dict or None
        ``classifier`` (``"svm"`` or ``"logreg"``), ``C`` (a number, or a list:
        the one with the best validation track-level macro-F1 is kept),
        ``gamma``, ``delta_width``.
    label_column : str or None
        Recorded in the model file (which manifest column the labels came from).
    progress : bool
        Progress bars while computing features.

    Returns
    -------
    pathlib.Path
        ``out_dir/model.safetensors``, whose spec's ``metrics`` hold
        ``train_accuracy`` and, with ``val_ds``, ``val_accuracy`` and
        ``val_macro_f1`` (track level), ``val_clip_accuracy`` /
        ``val_clip_macro_f1``; ``extra`` lists skipped unreadable files.

    Raises
    ------
    ParameterError
        Unknown ``model_config`` keys, a C grid without validation tracks, or a
        multi-label dataset.
    DataError
        Fewer than two classes among the readable training tracks.

    Examples
    --------
    >>> path = fit_baseline(train, valid, out_dir="runs/base", clip_seconds=3.0)  # doctest: +SKIP
    """
    if args or hasattr(train_ds, "model_config"):
        # The old form fit_baseline(cfg, train_ds, val_ds): read the settings off cfg.
        return _fit_baseline_from_config(train_ds, val_ds, *args, progress=progress)
    if out_dir is None:
        raise ParameterError("fit_baseline needs out_dir= (the model file's folder)")
    options = _baseline_options(model_config or {}, train_ds, val_ds)
    feature = baseline_feature(feature)
    cache_dir = cache_dir or _default_cache_dir()
    failed: list = []
    common = dict(
        feature=feature,
        cache_dir=cache_dir,
        clip_seconds=float(clip_seconds),
        delta_width=options["delta_width"],
        failed=failed,
        progress=progress,
    )
    x_train, y_train, _ = _window_stats(train_ds, hop_seconds=None, desc="train", **common)
    val = None
    if val_ds is not None and len(val_ds):
        val = _window_stats(val_ds, hop_seconds=val_hop_seconds, desc="valid", **common)
    fitter = _Fitter(x_train, y_train, list(train_ds.classes), options, feature, clip_seconds)
    model = fitter.best(val)
    metrics = fitter.metrics(model, val)
    if failed:
        warnings.warn(
            f"{len(failed)} unreadable file(s) skipped: "
            + "; ".join(f"{f.path}: {f.error}" for f in failed[:5]),
            stacklevel=2,
        )
    return _save_baseline(
        model, fitter, metrics, out_dir=Path(out_dir), label_column=label_column, failed=failed
    )


def _default_cache_dir() -> Path:
    from torchmusic.data import default_cache_dir

    return default_cache_dir()


def _fit_baseline_from_config(cfg: Any, train_ds: Any, val_ds: Any = None, *, progress: bool):
    warnings.warn(
        "fit_baseline(cfg, train, valid) is deprecated; pass the tracks first and the "
        "settings as keywords: fit_baseline(train, valid, out_dir=..., clip_seconds=...)",
        FutureWarning,
        stacklevel=3,
    )

    def get(name: str, default: Any) -> Any:
        value = getattr(cfg, name, None)
        return default if value is None else value

    return fit_baseline(
        train_ds,
        val_ds,
        out_dir=get("out_dir", "runs/mfcc-svm"),
        feature=get("feature", None),
        clip_seconds=float(get("clip_seconds", 3.0)),
        val_hop_seconds=get("val_hop_seconds", None),
        cache_dir=get("cache_dir", None),
        model_config=dict(get("model_config", {})),
        label_column=get("label_column", None),
        progress=progress,
    )


def _baseline_options(options: dict[str, Any], train_ds: Any, val_ds: Any) -> dict[str, Any]:
    """``model_config`` checked, with defaults; ``C_grid`` set when C is a list."""
    unknown = sorted(set(options) - set(_MODEL_CONFIG_KEYS))
    if unknown:
        raise ParameterError(
            f"unknown mfcc-svm setting(s) {unknown}; expected some of {list(_MODEL_CONFIG_KEYS)}"
        )
    if getattr(train_ds, "multi_label", False):
        raise ParameterError(
            "the mfcc-svm baseline is single-label; this dataset is multi-label (use a network)"
        )
    c_setting = options.get("C", 10.0)
    c_grid = [float(c) for c in c_setting] if isinstance(c_setting, list | tuple) else None
    if c_grid is not None and (val_ds is None or not len(val_ds)):
        raise ParameterError(
            f"model_config.C={c_setting!r} is a grid, which needs a validation split"
        )
    return {
        "classifier": options.get("classifier", "svm"),
        "C": c_setting,
        "C_grid": c_grid,
        "gamma": options.get("gamma", "scale"),
        "delta_width": int(options.get("delta_width", 9)),
    }


class _Fitter:
    """Fits the scikit-learn model for one C, picks C on validation, scores the result."""

    def __init__(self, x, y, classes, options, feature, clip_seconds) -> None:
        self.x, self.y, self.classes = x, y, classes
        self.options, self.feature, self.clip = options, feature, float(clip_seconds)

    def fit(self, c: float) -> MFCCStats:
        scaler, est = fit_sklearn_baseline(
            self.x,
            self.y,
            classifier=self.options["classifier"],
            C=c,
            gamma=self.options["gamma"],
        )
        model = MFCCStats.from_sklearn(
            scaler,
            est,
            n_classes=len(self.classes),
            n_frames=self.feature.clip_frames(self.clip),
            delta_width=self.options["delta_width"],
        )
        model.config.gamma = self.options["gamma"]
        return model

    def evaluate(self, model: MFCCStats, stats: np.ndarray, y: np.ndarray, ids: list[str]):
        from torchmusic.metrics import aggregate_by_track, single_label_metrics

        probs = _stats_probabilities(model, stats)
        clip_m = single_label_metrics(y, probs.argmax(1), classes=self.classes)
        track_ids, track_p = aggregate_by_track(probs, ids)
        first = dict(zip(ids, y.tolist(), strict=True))
        track_y = np.asarray([first[t] for t in track_ids])
        track_m = single_label_metrics(track_y, track_p.argmax(1), classes=self.classes)
        return {"clip": clip_m, "track": track_m}

    def best(self, val: Any) -> MFCCStats:
        grid = self.options["C_grid"]
        if grid is not None and val is not None:
            score = lambda m: self.evaluate(m, *val)["track"]["macro_f1"]  # noqa: E731
            return self.fit(_select_c(grid, self.fit, score))
        return self.fit(float(self.options["C"]))

    def metrics(self, model: MFCCStats, val: Any) -> dict[str, Any]:
        train_probs = _stats_probabilities(model, self.x)
        metrics: dict[str, Any] = {
            "train_accuracy": float((train_probs.argmax(1) == self.y).mean()),
            "n_train_clips": len(self.y),
        }
        if val is not None:
            result = self.evaluate(model, *val)
            metrics.update(
                val_accuracy=result["track"]["accuracy"],
                val_macro_f1=result["track"]["macro_f1"],
                val_clip_accuracy=result["clip"]["accuracy"],
                val_clip_macro_f1=result["clip"]["macro_f1"],
                n_val_clips=len(val[1]),
            )
        return metrics


def _save_baseline(model, fitter, metrics, *, out_dir: Path, label_column, failed) -> Path:
    from torchmusic.models.modelfile import ClassifierSpec, save_classifier

    spec = ClassifierSpec(
        architecture="mfcc-svm",
        model_config=dataclasses.asdict(model.config),
        labels=fitter.classes,
        multi_label=False,
        feature=fitter.feature.to_dict(),
        clip_seconds=fitter.clip,
        metrics=metrics,
        extra={
            "label_column": label_column,
            "skipped_files": [{"path": str(f.path), "error": f.error} for f in failed],
        },
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(save_classifier(out_dir / "model.safetensors", model, spec))


def _stats_probabilities(model: MFCCStats, stats: np.ndarray) -> np.ndarray:
    """Softmax of the model's scores on precomputed (unstandardised) statistics."""
    with torch.no_grad():
        z = (torch.from_numpy(stats) - model.mean) / model.scale
        return torch.softmax(model.classify(z), dim=-1).numpy()
