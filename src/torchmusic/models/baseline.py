"""The MFCC-statistics baseline (``"mfcc-svm"``): clip statistics + an RBF SVM or logistic regression.

Per clip, the means and standard deviations over time of the MFCCs and of their
deltas (``4 * n_mfcc`` numbers) are standardised and classified by an RBF-kernel
SVM (or logistic regression) fitted with scikit-learn. The fitted arrays are then
copied into buffers of an :class:`torch.nn.Module`, so the baseline is saved,
loaded and run exactly like the networks: one model-file format (safetensors, no
pickle), one prediction path, no scikit-learn needed at prediction time.

Output scores (``forward``)
---------------------------
- ``classifier="svm"``: scikit-learn's one-vs-rest decision function of a
  one-vs-one SVC (``SVC(decision_function_shape="ovr")``): per class, the number
  of pairwise duels it wins plus its summed pairwise margins squashed into
  ``(-1/3, 1/3)`` (``m / (3 (|m| + 1))``), so the margin only breaks ties between
  equal vote counts. ``argmax`` equals ``SVC(break_ties=True).predict``. Softmax
  of these scores is a usable, uncalibrated probability: it ranks classes by
  votes, and a class winning one more duel is ``e`` times as likely.
- ``classifier="logreg"``: the logits of multinomial logistic regression; softmax
  equals scikit-learn's ``predict_proba`` (two classes: logits ``[0, z]``).
- A class without training examples gets the constant score
  :data:`ABSENT_LOGIT` (never predicted).

Examples
--------
>>> import torch
>>> x = torch.randn(40, 13, 50)  # MFCCs of 40 clips
>>> y = torch.arange(40) % 2
>>> model = fit_mfcc_stats(x, y, n_classes=2)
>>> model(x[:3]).shape
torch.Size([3, 2])
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from torchmusic.errors import DataError, ParameterError
from torchmusic.features.delta import delta
from torchmusic.models.classify.registry import register_classifier

CLASSIFIER_KINDS = ("svm", "logreg")
# Score of a class that had no training example: far below any real score (SVM
# scores are >= -1/3), and finite, so softmax gives it ~1e-13 instead of NaN paths.
ABSENT_LOGIT = -30.0
_LOGREG_MAX_ITER = 5000


# -- config and module ------------------------------------------------------------------
@dataclasses.dataclass
class MFCCStatsConfig:
    """Settings of :class:`MFCCStats`.

    Parameters
    ----------
    n_mels : int
        MFCCs per frame of the input (``FeatureConfig.n_mfcc``); called ``n_mels``
        like the feature-bin count of every classifier config.
    n_frames : int
        Frames per clip (informational: statistics work for any length).
    n_classes : int
        Outputs.
    classifier : {"svm", "logreg"}
        RBF SVM or multinomial logistic regression.
    C : float
        Inverse regularisation strength of either classifier.
    gamma : float or {"scale", "auto"}
        RBF kernel width; ``"scale"`` is ``1 / (n_features * X.var())`` of the
        standardised training statistics, as in scikit-learn.
    delta_width : int
        Window of the delta filter (odd, >= 3), as ``librosa.feature.delta``.
    n_support_vectors : int
        Support vectors of the fitted SVM (sizes the buffers; set by fitting).
    """

    n_mels: int = 20
    n_frames: int = 130
    n_classes: int = 2
    classifier: str = "svm"
    C: float = 10.0
    gamma: float | str = "scale"
    delta_width: int = 9
    n_support_vectors: int = 0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("n_mels", "n_frames", "n_classes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ParameterError(f"{owner}: {name}={value!r} must be a positive integer")
        if self.classifier not in CLASSIFIER_KINDS:
            raise ParameterError(
                f"{owner}: classifier={self.classifier!r} must be one of {CLASSIFIER_KINDS}"
            )
        if isinstance(self.C, bool) or not isinstance(self.C, int | float) or not self.C > 0:
            raise ParameterError(f"{owner}: C={self.C!r} must be a positive number")
        self.C = float(self.C)
        if isinstance(self.gamma, str):
            if self.gamma not in ("scale", "auto"):
                raise ParameterError(
                    f"{owner}: gamma={self.gamma!r} must be a positive number, 'scale' or 'auto'"
                )
        elif (
            isinstance(self.gamma, bool)
            or not isinstance(self.gamma, int | float)
            or not self.gamma > 0
        ):
            raise ParameterError(
                f"{owner}: gamma={self.gamma!r} must be a positive number, 'scale' or 'auto'"
            )
        w = self.delta_width
        if not isinstance(w, int) or isinstance(w, bool) or w < 3 or w % 2 == 0:
            raise ParameterError(f"{owner}: delta_width={w!r} must be an odd integer >= 3")
        n = self.n_support_vectors
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ParameterError(f"{owner}: n_support_vectors={n!r} must be an integer >= 0")

    @property
    def n_stats(self) -> int:
        """Length of the statistics vector: means and stds of MFCCs and deltas."""
        return 4 * self.n_mels


def clip_statistics(features: torch.Tensor, *, delta_width: int = 9) -> torch.Tensor:
    """Means and standard deviations over time of features and of their deltas.

    Parameters
    ----------
    features : torch.Tensor, shape (batch, n_bins, frames)
        E.g. MFCCs of a batch of clips.
    delta_width : int
        Delta window (``librosa.feature.delta``'s ``width``). Clips with fewer
        frames than that use edge-replicating padding (``mode="nearest"``)
        instead of librosa's polynomial fit, which needs ``width`` frames.

    Returns
    -------
    torch.Tensor, shape (batch, 4 * n_bins)
        ``[mean(x), std(x), mean(delta x), std(delta x)]`` (population std), in
        the dtype of ``features``.

    Examples
    --------
    >>> clip_statistics(torch.ones(2, 3, 10)).tolist()[0][:6]
    [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    if not isinstance(features, torch.Tensor) or not features.is_floating_point():
        raise ParameterError("features must be a floating-point tensor (batch, n_bins, frames)")
    if features.ndim != 3 or features.shape[-1] == 0:
        raise ParameterError(
            f"features must have shape (batch, n_bins, frames >= 1), got {tuple(features.shape)}"
        )
    mode = "interp" if features.shape[-1] >= delta_width else "nearest"
    d = delta(features, width=delta_width, mode=mode)
    return torch.cat(
        [
            features.mean(-1),
            features.std(-1, correction=0),
            d.mean(-1),
            d.std(-1, correction=0),
        ],
        dim=-1,
    )


class MFCCStats(nn.Module):
    """MFCC statistics + a fitted SVM / logistic regression, evaluated in torch.

    Build it fitted with :func:`fit_mfcc_stats`; an instance made from a config
    alone holds empty (zero) buffers that a model file's weights fill.

    Parameters
    ----------
    config : MFCCStatsConfig

    Notes
    -----
    Buffers (float64, so that scores equal scikit-learn's): ``mean``/``scale``
    (``n_stats``) standardise the statistics; SVM: ``support_vectors``
    ``(n_sv, n_stats)``, ``gamma`` (scalar), ``pair_coef`` ``(n_pairs, n_sv)`` and
    ``pair_intercept`` ``(n_pairs)`` (one row per class pair ``i < j`` in
    ``triu_indices`` order; positive decision: class ``i``), ``pair_active``;
    logistic regression: ``coef`` ``(n_classes, n_stats)``, ``intercept``;
    both: ``present`` (classes seen in training).

    Examples
    --------
    >>> model = MFCCStats(MFCCStatsConfig(n_mels=20, n_classes=3, n_support_vectors=5))
    >>> sorted(model.state_dict())[:3]
    ['gamma', 'mean', 'pair_active']
    """

    def __init__(self, config: MFCCStatsConfig) -> None:
        super().__init__()
        if not isinstance(config, MFCCStatsConfig):
            raise ParameterError(f"config must be an MFCCStatsConfig, got {type(config).__name__}")
        self.config = config
        n, f = config.n_classes, config.n_stats
        f64 = torch.float64
        self.register_buffer("mean", torch.zeros(f, dtype=f64))
        self.register_buffer("scale", torch.ones(f, dtype=f64))
        self.register_buffer("present", torch.zeros(n, dtype=torch.bool))
        if config.classifier == "svm":
            n_pairs = n * (n - 1) // 2
            self.register_buffer(
                "support_vectors", torch.zeros(config.n_support_vectors, f, dtype=f64)
            )
            self.register_buffer("gamma", torch.zeros((), dtype=f64))
            self.register_buffer(
                "pair_coef", torch.zeros(n_pairs, config.n_support_vectors, dtype=f64)
            )
            self.register_buffer("pair_intercept", torch.zeros(n_pairs, dtype=f64))
            self.register_buffer("pair_active", torch.zeros(n_pairs, dtype=torch.bool))
        else:
            self.register_buffer("coef", torch.zeros(n, f, dtype=f64))
            self.register_buffer("intercept", torch.zeros(n, dtype=f64))

    @property
    def fitted(self) -> bool:
        """Whether weights were fitted or loaded (at least two classes were seen)."""
        return int(self.present.sum()) >= 2

    def statistics(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised clip statistics ``(batch, n_stats)`` of MFCCs ``x``."""
        stats = clip_statistics(x.to(self.mean.dtype), delta_width=self.config.delta_width)
        return (stats - self.mean) / self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``(batch, n_classes)`` of MFCC clips ``x`` ``(batch, n_mfcc, frames)``.

        Computed in the buffers' dtype (float64); returned in ``x``'s floating dtype.
        """
        if x.ndim != 3 or x.shape[1] != self.config.n_mels:
            raise ParameterError(
                f"MFCCStats expects MFCCs of shape (batch, {self.config.n_mels}, frames), "
                f"got {tuple(x.shape)}"
            )
        if not self.fitted:
            raise DataError(
                "this MFCCStats model has no fitted weights; fit it with fit_mfcc_stats() or "
                "'torchmusic train classify --model mfcc-svm', or load a model file"
            )
        scores = self.classify(self.statistics(x))
        return scores.to(x.dtype if x.is_floating_point() else torch.float32)

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        """Scores ``(batch, n_classes)`` of standardised statistics ``z`` ``(batch, n_stats)``."""
        if self.config.classifier == "svm":
            scores = self._svm_scores(z)
        else:
            scores = z @ self.coef.T + self.intercept
        return scores.masked_fill(~self.present, ABSENT_LOGIT)

    def _svm_scores(self, z: torch.Tensor) -> torch.Tensor:
        # Direct differences, not the |a|^2 + |b|^2 - 2ab expansion, for the
        # precision of libsvm's kernel (argmax must equal scikit-learn's predict).
        sq_dist = torch.cdist(
            z, self.support_vectors, compute_mode="donot_use_mm_for_euclid_dist"
        ).square()
        kernel = torch.exp(-self.gamma * sq_dist)
        dec = kernel @ self.pair_coef.T + self.pair_intercept  # (batch, n_pairs)
        n = self.config.n_classes
        i, j = torch.triu_indices(n, n, offset=1, device=z.device)
        active = self.pair_active.to(dec.dtype)
        wins_i = (dec >= 0).to(dec.dtype) * active
        wins_j = (dec < 0).to(dec.dtype) * active
        votes = torch.zeros(z.shape[0], n, dtype=dec.dtype, device=z.device)
        votes.index_add_(1, i, wins_i).index_add_(1, j, wins_j)
        margins = torch.zeros_like(votes)
        margins.index_add_(1, i, dec * active).index_add_(1, j, -dec * active)
        # scikit-learn's _ovr_decision_function: margins squashed into (-1/3, 1/3)
        # never overturn a one-vote difference.
        return votes + margins / (3 * (margins.abs() + 1))

    # -- conversion from scikit-learn -------------------------------------------------
    @classmethod
    def from_sklearn(
        cls,
        scaler: Any,
        estimator: Any,
        *,
        n_classes: int,
        n_frames: int = 130,
        delta_width: int = 9,
    ) -> MFCCStats:
        """Copy a fitted ``StandardScaler`` + ``SVC(kernel="rbf")`` or ``LogisticRegression``.

        Parameters
        ----------
        scaler : sklearn.preprocessing.StandardScaler
            Fitted on the clip statistics.
        estimator : sklearn.svm.SVC or sklearn.linear_model.LogisticRegression
            Fitted on the standardised statistics with integer targets (class
            indices in ``range(n_classes)``).
        n_classes : int
            Size of the label vocabulary (classes the estimator never saw are
            scored :data:`ABSENT_LOGIT`).
        n_frames, delta_width : int
            Stored in the config (see :class:`MFCCStatsConfig`).

        Returns
        -------
        MFCCStats
            In eval mode.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import SVC

        classes = np.asarray(estimator.classes_)
        if not np.issubdtype(classes.dtype, np.integer) or classes.min() < 0:
            raise ParameterError(
                f"the estimator was fitted on classes {classes.tolist()}; expected class indices"
            )
        if classes.max() >= n_classes:
            raise ParameterError(
                f"the estimator knows class index {int(classes.max())} but n_classes={n_classes}"
            )
        n_stats = int(np.asarray(scaler.mean_).shape[0])
        if n_stats % 4:
            raise ParameterError(f"{n_stats} statistics is not 4 * n_mfcc")
        common = dict(
            n_mels=n_stats // 4, n_frames=n_frames, n_classes=n_classes, delta_width=delta_width
        )
        if isinstance(estimator, SVC):
            if estimator.kernel != "rbf":
                raise ParameterError(f"SVC kernel={estimator.kernel!r}; only 'rbf' is supported")
            config = MFCCStatsConfig(
                **common,
                classifier="svm",
                C=float(estimator.C),
                gamma=estimator.gamma,
                n_support_vectors=int(estimator.support_vectors_.shape[0]),
            )
            model = cls(config)
            _copy_svc(model, estimator, classes)
        elif isinstance(estimator, LogisticRegression):
            config = MFCCStatsConfig(**common, classifier="logreg", C=float(estimator.C))
            model = cls(config)
            _copy_logreg(model, estimator, classes)
        else:
            raise ParameterError(
                f"estimator must be an SVC or LogisticRegression, got {type(estimator).__name__}"
            )
        with torch.no_grad():
            model.mean.copy_(torch.from_numpy(np.asarray(scaler.mean_, dtype=np.float64)))
            model.scale.copy_(torch.from_numpy(np.asarray(scaler.scale_, dtype=np.float64)))
            model.present[torch.from_numpy(classes.astype(np.int64))] = True
        return model.eval()


def _pair_rows(n_classes: int) -> dict[tuple[int, int], int]:
    """Row of each class pair ``(i, j)``, ``i < j``, in ``torch.triu_indices`` order."""
    i, j = torch.triu_indices(n_classes, n_classes, offset=1)
    return {(int(a), int(b)): k for k, (a, b) in enumerate(zip(i, j, strict=True))}


def _copy_svc(model: MFCCStats, svc: Any, classes: np.ndarray) -> None:
    """Turn libsvm's one-vs-one layout into one weight row per class pair.

    libsvm stores, for ``m`` classes, ``dual_coef_`` of shape ``(m - 1, n_sv)``
    with the support vectors grouped by class: the decision of pair ``(a, b)``
    (``a < b``) is ``sum_{sv in a} dual_coef[b - 1, sv] K(x, sv) + sum_{sv in b}
    dual_coef[a, sv] K(x, sv) + intercept[pair]``, positive for ``a``.
    scikit-learn negates ``dual_coef_`` and ``intercept_`` of two-class models
    (so that positive means ``classes_[1]``); that is undone here.
    """
    dual = np.asarray(svc.dual_coef_, dtype=np.float64)
    intercept = np.asarray(svc.intercept_, dtype=np.float64)
    if len(classes) == 2:
        dual, intercept = -dual, -intercept
    bounds = np.concatenate([[0], np.cumsum(svc.n_support_)])
    rows = _pair_rows(model.config.n_classes)
    coef = np.zeros(tuple(model.pair_coef.shape), dtype=np.float64)
    bias = np.zeros(len(rows), dtype=np.float64)
    active = np.zeros(len(rows), dtype=bool)
    p = 0
    for a in range(len(classes)):
        for b in range(a + 1, len(classes)):
            row = rows[(int(classes[a]), int(classes[b]))]
            coef[row, bounds[a] : bounds[a + 1]] = dual[b - 1, bounds[a] : bounds[a + 1]]
            coef[row, bounds[b] : bounds[b + 1]] = dual[a, bounds[b] : bounds[b + 1]]
            bias[row] = intercept[p]
            active[row] = True
            p += 1
    gamma = svc.gamma
    if isinstance(gamma, str):
        raise ParameterError(
            f"SVC gamma={gamma!r}: fit with a numeric gamma (fit_sklearn_baseline resolves "
            "'scale' and 'auto' to numbers), so the model file can store it"
        )
    with torch.no_grad():
        model.support_vectors.copy_(torch.from_numpy(np.asarray(svc.support_vectors_, np.float64)))
        model.gamma.fill_(float(gamma))
        model.pair_coef.copy_(torch.from_numpy(coef))
        model.pair_intercept.copy_(torch.from_numpy(bias))
        model.pair_active.copy_(torch.from_numpy(active))


def _copy_logreg(model: MFCCStats, lr: Any, classes: np.ndarray) -> None:
    """Logistic regression as logits: two classes give ``[0, z]`` (softmax = sigmoid of z)."""
    coef = np.asarray(lr.coef_, dtype=np.float64)
    intercept = np.asarray(lr.intercept_, dtype=np.float64)
    if len(classes) == 2:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    index = torch.from_numpy(classes.astype(np.int64))
    with torch.no_grad():
        model.coef[index] = torch.from_numpy(coef)
        model.intercept[index] = torch.from_numpy(intercept)


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
        return scaler, LogisticRegression(C=C, max_iter=_LOGREG_MAX_ITER).fit(x, targets)
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


register_classifier("mfcc-svm", MFCCStatsConfig, MFCCStats)
