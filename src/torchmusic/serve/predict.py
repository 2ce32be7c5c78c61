"""Label audio files with a classifier model file: sliding windows, batched, track = mean.

:class:`Predictor` loads a model file once and labels waveforms or files:
audio is loaded at the model's feature sample rate, its features are computed once
for the whole file, cut into windows of the model's clip length every
``hop_seconds`` and run through the model in batches. Window probabilities
(softmax for single-label models, sigmoid for multi-label ones) are averaged into
the track's. :func:`predict_paths` does this for files and folders, skipping and
reporting bad files.

Only torch, the model file and the feature code are needed: no Lightning, no
training code.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from torchmusic import audio
from torchmusic.data.discover import AUDIO_EXTENSIONS, collect_inputs
from torchmusic.data.extract import FailedFile
from torchmusic.data.windows import feature_windows
from torchmusic.errors import ParameterError, TorchMusicError
from torchmusic.models.modelfile import ClassifierSpec, load_classifier, validate_spec
from torchmusic.pretrained import resolve_model

#: ``(label, probability)`` pairs, most probable first.
Ranked = list[tuple[str, float]]


@dataclasses.dataclass
class TrackPrediction:
    """Labels of one audio file.

    Attributes
    ----------
    path : pathlib.Path
        The audio file.
    labels : list of (str, float)
        Top-k labels of the whole track with their probabilities, most probable first.
    segments : list of (float, float, list of (str, float))
        Per window: start and end time (seconds, the end clipped to the track) and
        its top-k labels; empty unless a timeline was asked for.
    duration : float
        Length of the track in seconds.
    probabilities : dict of str to float
        The track probability of every label (model order).
    name : str
        Display name (the path relative to the folder it was found in).
    """

    path: Path
    labels: Ranked
    segments: list[tuple[float, float, Ranked]]
    duration: float = 0.0
    probabilities: dict[str, float] = dataclasses.field(default_factory=dict)
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``path``, ``name``, ``duration``, ``labels`` and ``segments``."""

        def ranked(pairs: Ranked) -> list[dict[str, Any]]:
            return [{"label": lab, "probability": p} for lab, p in pairs]

        return {
            "path": str(self.path),
            "name": self.name,
            "duration": self.duration,
            "labels": ranked(self.labels),
            "segments": [
                {"start": s, "end": e, "labels": ranked(pairs)} for s, e, pairs in self.segments
            ],
        }


@dataclasses.dataclass
class PredictionReport:
    """Outcome of :func:`predict_paths`: predictions in input order, and the files that failed."""

    predictions: list[TrackPrediction]
    failed: list[FailedFile]


def _check_top_k(top_k: int) -> int:
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ParameterError(f"top_k={top_k!r} must be a positive integer")
    return top_k


class Predictor:
    """A loaded classifier that labels audio with sliding windows.

    Parameters
    ----------
    model : str or os.PathLike
        Model file, or the name of a shipped model (e.g. ``"drums"``).
    device : str or torch.device
        Where features are computed and the model runs.
    hop_seconds : float, optional
        Seconds between window starts; default: the model's clip length (no overlap).
    batch_size : int
        Windows per forward pass.

    Attributes
    ----------
    model : nn.Module
        The network, in eval mode.
    spec : ClassifierSpec
        Its labels, feature settings and clip length.
    feature : FeatureConfig
        The features it is fed (audio is loaded at ``feature.sr``).
    n_frames : int
        Frames per window (what the model was built for).

    Notes
    -----
    Windows are cut from the features of the whole file exactly as the training
    datasets cut clips from cached features, so a model sees at prediction time
    what it saw in training. A file shorter than one clip gives one window, and
    the last window of a file is completed, by padding with the features' silence
    level (the track's minimum for ``logmel``, 0 for the other kinds), which is what
    zero-padding the audio amounts to. Features are computed once per file, so
    memory grows with its length (about 1 GB of temporary STFT memory per 30
    minutes of audio at the default settings).

    Examples
    --------
    >>> predictor = Predictor("drums")  # doctest: +SKIP
    >>> predictor.predict_file("kick.wav", top_k=2).labels  # doctest: +SKIP
    [('kick', 0.97), ('tom', 0.02)]
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str | torch.device = "cpu",
        hop_seconds: float | None = None,
        batch_size: int = 64,
    ) -> None:
        path = resolve_model(model)
        net, spec = load_classifier(path, device=device)
        self._setup(net, spec, device=device, hop_seconds=hop_seconds, batch_size=batch_size)
        self.source = path

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        spec: ClassifierSpec,
        *,
        device: str | torch.device = "cpu",
        hop_seconds: float | None = None,
        batch_size: int = 64,
    ) -> Predictor:
        """A predictor around an in-memory model (e.g. right after training), no file needed."""
        if not isinstance(spec, ClassifierSpec):
            raise ParameterError(f"spec must be a ClassifierSpec, got {type(spec).__name__}")
        # The model's own config is what counts (spec.model_config may be left empty).
        spec = dataclasses.replace(spec, model_config=dataclasses.asdict(model.config))
        validate_spec(spec)
        self = cls.__new__(cls)
        self._setup(
            model.to(device).eval(),
            spec,
            device=device,
            hop_seconds=hop_seconds,
            batch_size=batch_size,
        )
        self.source = None
        return self

    def _setup(
        self,
        model: nn.Module,
        spec: ClassifierSpec,
        *,
        device: str | torch.device,
        hop_seconds: float | None,
        batch_size: int,
    ) -> None:
        if hop_seconds is None:
            hop_seconds = spec.clip_seconds
        if (
            isinstance(hop_seconds, bool)
            or not isinstance(hop_seconds, int | float)
            or not (0 < hop_seconds < math.inf)
        ):
            raise ParameterError(f"hop_seconds={hop_seconds!r} must be a positive number")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
        self.model = model
        self.spec = spec
        self.labels = list(spec.labels)
        self.feature = spec.feature_config()
        self.device = torch.device(device)
        self.clip_seconds = float(spec.clip_seconds)
        self.hop_seconds = float(hop_seconds)
        self.batch_size = batch_size
        self.n_frames = int(model.config.n_frames)
        sr = self.feature.sr
        self._clip_n = round(self.clip_seconds * sr)
        self._hop_n = round(self.hop_seconds * sr)
        if self._hop_n < 1:
            raise ParameterError(
                f"hop_seconds={hop_seconds!r} is shorter than one sample at {sr} Hz"
            )

    def __repr__(self) -> str:
        return (
            f"Predictor({self.spec.architecture}, {len(self.labels)} labels, "
            f"clip={self.clip_seconds} s, hop={self.hop_seconds} s, device={self.device})"
        )

    # -- windows -------------------------------------------------------------------------
    def window_features(self, y: torch.Tensor) -> tuple[torch.Tensor, list[tuple[float, float]]]:
        """Feature windows of a mono waveform at ``feature.sr``.

        Parameters
        ----------
        y : torch.Tensor [shape=(samples,)]

        Returns
        -------
        windows : torch.Tensor [shape=(n_windows, n_bins, n_frames)]
            On :attr:`device`.
        spans : list of (float, float)
            Start and end (clipped to the signal) of each window in seconds.

        Examples
        --------
        >>> windows, spans = predictor.window_features(torch.zeros(5 * 22050))  # doctest: +SKIP
        >>> windows.shape, spans[-1]  # 3 s clips  # doctest: +SKIP
        (torch.Size([2, 128, 130]), (3.0, 5.0))
        """
        windows, starts = feature_windows(
            y,
            feature=self.feature,
            clip_n=self._clip_n,
            hop_n=self._hop_n,
            n_frames=self.n_frames,
            device=self.device,
        )
        n, sr = y.shape[-1], self.feature.sr
        spans = [(s / sr, min(s + self._clip_n, n) / sr) for s in starts]
        return windows, spans

    def predict_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """Probabilities of feature windows, run through the model in batches.

        Parameters
        ----------
        windows : torch.Tensor [shape=(n_windows, n_bins, n_frames)]
            Features as ``FeatureConfig.compute`` gives them, cut to the model's clip.

        Returns
        -------
        torch.Tensor [shape=(n_windows, n_classes)], float32, on the CPU
            Softmax (single-label: rows sum to 1) or sigmoid (multi-label) outputs.

        Examples
        --------
        >>> windows, _ = predictor.window_features(y)  # doctest: +SKIP
        >>> predictor.predict_windows(windows).mean(dim=0)  # the track's probabilities  # doctest: +SKIP
        tensor([0.0712, 0.8120, 0.1168])
        """
        expected = (self.model.config.n_mels, self.n_frames)
        if windows.ndim != 3 or tuple(windows.shape[1:]) != expected:
            raise ParameterError(
                f"windows must have shape (n_windows, {expected[0]}, {expected[1]}), "
                f"got {tuple(windows.shape)}"
            )
        out = []
        with torch.inference_mode():
            for i in range(0, windows.shape[0], self.batch_size):
                batch = windows[i : i + self.batch_size].to(self.device, torch.float32)
                logits = self.model(batch).float()
                probs = logits.sigmoid() if self.spec.multi_label else logits.softmax(dim=-1)
                out.append(probs.cpu())
        if not out:
            return torch.zeros(0, len(self.labels))
        return torch.cat(out)

    # -- tracks --------------------------------------------------------------------------
    def _ranked(self, probs: torch.Tensor, k: int) -> Ranked:
        values, indices = torch.topk(probs, min(k, probs.shape[-1]))
        return [(self.labels[i], float(v)) for v, i in zip(values, indices.tolist(), strict=True)]

    def predict_waveform(
        self,
        y: torch.Tensor,
        *,
        top_k: int = 3,
        timeline: bool = False,
        path: str | os.PathLike[str] = "",
    ) -> TrackPrediction:
        """Labels of a mono waveform ``y`` ``(samples,)`` sampled at ``feature.sr``.

        The track's probabilities are the mean of its windows'. ``top_k`` and
        ``timeline`` are as in :meth:`predict_file`; ``path`` is only recorded.

        Returns
        -------
        TrackPrediction

        Examples
        --------
        >>> y, _ = torchmusic.audio.load("kick.wav", sr=predictor.feature.sr)  # doctest: +SKIP
        >>> predictor.predict_waveform(y, top_k=1).labels  # doctest: +SKIP
        [('kick', 0.97)]
        """
        top_k = _check_top_k(top_k)
        windows, spans = self.window_features(y)
        probs = self.predict_windows(windows)
        return self.track_prediction(
            probs, spans, n_samples=y.shape[-1], top_k=top_k, timeline=timeline, path=path
        )

    def track_prediction(
        self,
        probs: torch.Tensor,
        spans: list[tuple[float, float]],
        *,
        n_samples: int,
        top_k: int = 3,
        timeline: bool = False,
        path: str | os.PathLike[str] = "",
    ) -> TrackPrediction:
        """The :class:`TrackPrediction` of a track from its windows' probabilities.

        The step after :meth:`predict_windows`, for callers that run the windows of
        several tracks in shared batches (:mod:`torchmusic.scale.batching`).

        Parameters
        ----------
        probs : torch.Tensor [shape=(n_windows, n_classes)]
            :meth:`predict_windows` of the track's windows.
        spans : list of (float, float)
            The windows' start and end in seconds (:meth:`window_features`).
        n_samples : int
            Length of the waveform at ``feature.sr``.
        top_k, timeline, path
            As in :meth:`predict_waveform`.

        Examples
        --------
        >>> windows, spans = predictor.window_features(y)  # doctest: +SKIP
        >>> probs = predictor.predict_windows(windows)  # doctest: +SKIP
        >>> predictor.track_prediction(probs, spans, n_samples=len(y)).labels  # doctest: +SKIP
        [('kick', 0.97), ('tom', 0.02), ('snare', 0.01)]
        """
        top_k = _check_top_k(top_k)
        track = probs.mean(dim=0)
        segments = []
        if timeline:
            segments = [
                (start, end, self._ranked(p, top_k))
                for (start, end), p in zip(spans, probs, strict=True)
            ]
        p = Path(path)
        return TrackPrediction(
            path=p,
            labels=self._ranked(track, top_k),
            segments=segments,
            duration=n_samples / self.feature.sr,
            probabilities={lab: float(v) for lab, v in zip(self.labels, track, strict=True)},
            name=p.name,
        )

    def predict_file(
        self, path: str | os.PathLike[str], *, top_k: int = 3, timeline: bool = False
    ) -> TrackPrediction:
        """Labels of an audio file: top-k over the whole file, and optionally per window.

        Parameters
        ----------
        path : str or os.PathLike
            Any file :func:`torchmusic.audio.load` reads; it is mixed to mono and
            resampled to the model's ``feature.sr``.
        top_k : int
            Labels to report (all of them if the model has fewer).
        timeline : bool
            Also report the top-k of every window in ``segments``.

        Returns
        -------
        TrackPrediction

        Raises
        ------
        AudioFileError
            The file is missing, empty or unreadable.

        Examples
        --------
        >>> Predictor("model.safetensors").predict_file("song.mp3").labels  # doctest: +SKIP
        [('country', 0.71), ('folk', 0.12), ('rock', 0.08)]
        """
        top_k = _check_top_k(top_k)
        y, _ = audio.load(path, sr=self.feature.sr, mono=True)
        return self.predict_waveform(y, top_k=top_k, timeline=timeline, path=path)


#: ``stream(files, predictor, *, top_k, timeline)``: a :class:`TrackPrediction` or a
#: :class:`FailedFile` per file, in order (see :func:`predict_paths`).
PredictStream = Callable[..., Iterator["TrackPrediction | FailedFile"]]


def _one_at_a_time(
    files: Iterable[Path], predictor: Predictor, *, top_k: int, timeline: bool
) -> Iterator[TrackPrediction | FailedFile]:
    for path in files:
        try:
            yield predictor.predict_file(path, top_k=top_k, timeline=timeline)
        # One bad file must not cost the others' results: reading and decoding errors
        # (and a file too long for memory) are reported; anything else is a bug and raises.
        except (TorchMusicError, OSError, MemoryError) as exc:
            message = (
                str(exc) if isinstance(exc, TorchMusicError) else f"{type(exc).__name__}: {exc}"
            )
            yield FailedFile(Path(path), message)


def predict_paths(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    model: str | os.PathLike[str] | Predictor,
    device: str | torch.device = "cpu",
    hop_seconds: float | None = None,
    top_k: int = 3,
    timeline: bool = False,
    progress: bool = True,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    stream: PredictStream | None = None,
) -> PredictionReport:
    """Predict labels for audio files and folders; bad files are skipped and reported.

    Parameters
    ----------
    paths : path or iterable of paths
        Audio files (taken whatever their extension) and folders (searched
        recursively for ``extensions``).
    model : str, os.PathLike or Predictor
        Model file, shipped model name, or a ready :class:`Predictor` (then
        ``device`` and ``hop_seconds`` are its own).
    device, hop_seconds
        See :class:`Predictor`.
    top_k, timeline
        See :meth:`Predictor.predict_file`.
    progress : bool
        Show a progress bar (on stderr) when there is more than one file.
    extensions : sequence of str
        File extensions searched for in folders.
    stream : callable, optional
        ``stream(files, predictor, top_k=..., timeline=...)`` yielding a
        :class:`TrackPrediction` or a :class:`FailedFile` per file, in order. Default:
        one file at a time in this thread. :func:`torchmusic.scale.predict_files`
        passes decoding worker processes and cross-track batches here.

    Returns
    -------
    PredictionReport
        ``predictions`` in input order (``name`` relative to the searched folders)
        and ``failed``: unreadable files and inputs that do not exist.

    Raises
    ------
    DataError
        The model file is unusable (nothing is predicted then).

    Examples
    --------
    >>> report = predict_paths(["music/"], model="genres.safetensors")  # doctest: +SKIP
    >>> [(p.name, p.labels[0]) for p in report.predictions]  # doctest: +SKIP
    [('a.mp3', ('rock', 0.81)), ...]
    """
    _check_top_k(top_k)
    predictor = (
        model
        if isinstance(model, Predictor)
        else Predictor(model, device=device, hop_seconds=hop_seconds)
    )
    inputs, missing = collect_inputs(paths, extensions=extensions)
    failed = [FailedFile(p, "no such file or folder") for p in missing]
    predictions: list[TrackPrediction] = []
    names = dict(inputs)
    bar = tqdm(
        total=len(inputs),
        desc="predict",
        unit="file",
        disable=not progress or len(inputs) < 2,
        leave=False,
    )
    run = stream or _one_at_a_time
    for outcome in run([p for p, _ in inputs], predictor, top_k=top_k, timeline=timeline):
        bar.update(1)
        if isinstance(outcome, FailedFile):
            failed.append(outcome)
            continue
        outcome.name = names.get(outcome.path, outcome.path.name)
        predictions.append(outcome)
    bar.close()
    return PredictionReport(predictions=predictions, failed=failed)
