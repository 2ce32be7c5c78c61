"""The MFCC-statistics baseline (``"mfcc-svm"``): clip statistics + an RBF SVM or logistic regression.

Per clip, the means and standard deviations over time of the MFCCs and of their
deltas (``4 * n_mfcc`` numbers) are standardised and classified by an RBF-kernel
SVM (or logistic regression) fitted with scikit-learn. The fitted arrays are then
copied into buffers of an :class:`torch.nn.Module`, so the baseline is saved,
loaded and run exactly like the networks: one model-file format (safetensors, no
pickle), one prediction path, no scikit-learn needed at prediction time. The
fitting code lives in :mod:`torchmusic.training.classify.baseline`.

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
>>> from torchmusic.training.classify.baseline import fit_mfcc_stats
>>> model = fit_mfcc_stats(x, y, n_classes=2)
>>> model(x[:3]).shape
torch.Size([3, 2])
"""

from __future__ import annotations

import dataclasses
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
LOGREG_MAX_ITER = 5000


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


register_classifier("mfcc-svm", MFCCStatsConfig, MFCCStats)
