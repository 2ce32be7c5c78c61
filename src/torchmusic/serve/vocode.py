"""Using a vocoder: log-mel -> audio, and analysis-resynthesis of audio files.

:class:`Vocoder` wraps a vocoder model file (or the shipped ``music-vocoder``):

- ``vocoder(mel)`` takes exactly what :func:`torchmusic.features.melspectrogram`
  + :func:`~torchmusic.features.power_to_db` (or ``vocoder.feature.compute``)
  give with the model's :class:`~torchmusic.features.FeatureConfig`, and returns
  the waveform; a mel made with other settings is refused by name
  (``vocoder(mel, feature=cfg)`` checks ``cfg`` against the model's);
- :meth:`Vocoder.resynthesize` turns audio into our log-mel and back, channel by
  channel, in overlapping chunks so memory stays bounded on long files.

No Lightning and no training code are imported here.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig

#: Mel frames synthesised per chunk (about 12 s at the default hop): bounds memory.
CHUNK_FRAMES = 512
#: Frames of context on each side of a chunk, more than any shipped generator's
#: receptive field (Vocos: 1 + 6 x 3 frames of 7-tap convolutions, plus the ISTFT's
#: n_fft / hop = 4 frames), so a chunk's inner samples equal whole-file synthesis.
CONTEXT_FRAMES = 32
#: Shortest input a vocoder can do anything with: one STFT frame's worth of audio.
MIN_SECONDS = 0.01


@dataclasses.dataclass
class Resynthesis:
    """What :meth:`Vocoder.resynthesize` returns.

    Attributes
    ----------
    audio : torch.Tensor
        ``(channels, samples)`` at ``sample_rate``; as many samples as the input
        (after resampling, if any).
    sample_rate : int
        The vocoder's rate.
    resampled_from : int or None
        The input's rate when it had to be resampled to the vocoder's, else None.
    """

    audio: torch.Tensor
    sample_rate: int
    resampled_from: int | None = None


class Vocoder:
    """A loaded vocoder model file.

    Parameters
    ----------
    model : str or os.PathLike
        Vocoder model file or shipped name (``"music-vocoder"``).
    device : str or torch.device
        Where synthesis runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
    refine : int
        Mel-consistency steps after the network (:func:`~torchmusic.serve.mel_refine.
        refine_to_mel`; default 0: the network's output as it is). 32 brings the shipped
        model's log-mel L1 on held-out music from 2.5 to 0.6 dB (Griffin-Lim 100: 1.1)
        at ~30x real time on 2 CPU threads (docs/vocoder.md).

    Attributes
    ----------
    feature : FeatureConfig
        The log-mel the model inverts (compute mels with it).
    sample_rate : int
    spec : VocoderSpec

    Examples
    --------
    >>> from torchmusic.features import FeatureConfig
    >>> voc = Vocoder("music-vocoder")  # doctest: +SKIP
    >>> mel = voc.feature.compute(torch.randn(22050))  # (128, 44)  # doctest: +SKIP
    >>> voc(mel).shape  # doctest: +SKIP
    torch.Size([22528])
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "music-vocoder",
        *,
        device: Any = "cpu",
        refine: int = 0,
    ):
        from torchmusic.models.vocoder.vocoderfile import load_vocoder_file

        self.refine = _check_refine(refine)

        self.device = torch.device(device)
        self.net, self.spec = load_vocoder_file(model, device=self.device)
        self.net.eval()
        self.path = str(model)
        self.feature: FeatureConfig = self.spec.feature_config()
        self.sample_rate = int(self.feature.sr)
        self.hop = int(self.feature.hop_length)

    def __repr__(self) -> str:
        return (
            f"Vocoder({self.path!r}, architecture={self.spec.architecture!r}, "
            f"sr={self.sample_rate}, refine={self.refine})"
        )

    # -- mel -> audio -----------------------------------------------------------------------
    def check_mel(self, mel: Any, *, feature: FeatureConfig | None = None) -> torch.Tensor:
        """``mel`` as a float tensor of shape ``(..., n_mels, frames)``, checked.

        Raises
        ------
        ParameterError
            ``feature`` differs from the model's (every differing setting named), the
            mel has another number of bands, fewer than 1 frame, or NaN/Inf values.
        """
        from torchmusic.models.vocoder.vocoderfile import check_mel_settings

        if feature is not None:
            check_mel_settings(self.feature, feature)
        mel = torch.as_tensor(mel)
        if not mel.is_floating_point():
            raise ParameterError(f"mel must be a floating-point array, got dtype {mel.dtype}")
        if mel.ndim < 2 or mel.shape[-2] != self.feature.n_mels or mel.shape[-1] < 1:
            raise ParameterError(
                f"mel has shape {tuple(mel.shape)}; expected (..., n_mels={self.feature.n_mels}, "
                "frames >= 1): the log-mel of the model's FeatureConfig (Vocoder.feature)"
            )
        if not torch.isfinite(mel).all():
            bad = int((~torch.isfinite(mel)).sum())
            raise ParameterError(
                f"mel has {bad} NaN/Inf value(s); a log-mel from power_to_db is finite (its "
                "floor is amin=1e-10, i.e. -100 dB)"
            )
        return mel.float()

    @torch.inference_mode()
    def __call__(
        self,
        mel: Any,
        *,
        feature: FeatureConfig | None = None,
        chunk_frames: int = CHUNK_FRAMES,
        context_frames: int = CONTEXT_FRAMES,
        refine: int | None = None,
    ) -> torch.Tensor:
        """Synthesise audio from log-mel(s).

        Parameters
        ----------
        mel : torch.Tensor or np.ndarray
            ``(n_mels, frames)`` or ``(batch, n_mels, frames)`` log-mel in dB,
            computed with :attr:`feature`.
        feature : FeatureConfig, optional
            The settings ``mel`` was computed with; checked against the model's.
        chunk_frames, context_frames : int
            Long mels are synthesised ``chunk_frames`` at a time with
            ``context_frames`` of overlap on each side (then trimmed), so memory
            does not grow with the length.
        refine : int, optional
            Mel-consistency steps (default: the vocoder's ``refine``), applied to each
            chunk with its context.

        Returns
        -------
        torch.Tensor
            ``(samples,)`` or ``(batch, samples)`` on the CPU, ``samples = frames * hop``.
        """
        mel = self.check_mel(mel, feature=feature)
        squeeze = mel.ndim == 2
        batch = mel.reshape(-1, *mel.shape[-2:])
        refine = self.refine if refine is None else _check_refine(refine)
        out = self._chunked(
            batch, chunk_frames=chunk_frames, context_frames=context_frames, refine=refine
        )
        return out[0] if squeeze else out.reshape(*mel.shape[:-2], -1)

    def _chunked(
        self, mel: torch.Tensor, *, chunk_frames: int, context_frames: int, refine: int = 0
    ) -> torch.Tensor:
        from torchmusic.serve.mel_refine import refine_to_mel

        if chunk_frames < 1 or context_frames < 0:
            raise ParameterError(
                f"chunk_frames={chunk_frames!r} must be >= 1 and context_frames="
                f"{context_frames!r} >= 0"
            )
        n_frames = mel.shape[-1]
        hop = self.hop
        floor = None  # the whole mel's top_db floor, shared by every chunk's refinement
        if refine and self.feature.top_db is not None:
            floor = mel.amax(dim=(-2, -1), keepdim=True) - float(self.feature.top_db)
        pieces = []
        for start in range(0, n_frames, chunk_frames):
            stop = min(n_frames, start + chunk_frames)
            lo, hi = max(0, start - context_frames), min(n_frames, stop + context_frames)
            part = mel[..., lo:hi].to(self.device)
            audio = self.net(part).float()
            if refine:
                audio = refine_to_mel(
                    audio, part, feature=self.feature, n_iter=refine, floor_db=floor
                )
            audio = audio.cpu()
            # Keep the samples of [start, stop): the context only conditions them.
            pieces.append(audio[..., (start - lo) * hop : (stop - lo) * hop])
        return torch.cat(pieces, dim=-1)

    # -- audio -> mel -> audio -----------------------------------------------------------------
    def resynthesize(
        self, audio: Any, sr: int, *, chunk_frames: int = CHUNK_FRAMES, refine: int | None = None
    ) -> Resynthesis:
        """Analysis-resynthesis: our log-mel of ``audio``, then the vocoder.

        Parameters
        ----------
        audio : torch.Tensor or np.ndarray
            ``(samples,)`` or ``(channels, samples)``; each channel is vocoded on its own.
        sr : int
            Its sample rate; other rates than the model's are resampled (soxr HQ).

        Returns
        -------
        Resynthesis
            The audio, ``(channels, samples)``, as long as the (resampled) input.

        Raises
        ------
        ParameterError
            Empty, non-finite or shorter than :data:`MIN_SECONDS` input.
        """
        from torchmusic.audio import resample

        y = torch.as_tensor(audio, dtype=torch.float32)
        if y.ndim == 1:
            y = y.unsqueeze(0)
        if y.ndim != 2:
            raise ParameterError(
                f"audio has shape {tuple(y.shape)}; expected (samples,) or (channels, samples)"
            )
        if y.shape[-1] < max(1, round(MIN_SECONDS * sr)):
            raise ParameterError(
                f"audio of {y.shape[-1]} samples at {sr} Hz is shorter than {MIN_SECONDS * 1000:g} ms; "
                "nothing to vocode"
            )
        if not torch.isfinite(y).all():
            raise ParameterError("audio has NaN/Inf samples")
        resampled_from = None
        if sr != self.sample_rate:
            y = resample(y, orig_sr=sr, target_sr=self.sample_rate)
            resampled_from = int(sr)
        n = y.shape[-1]
        mel = self.feature.compute(y)  # (channels, n_mels, frames)
        out = self(mel, chunk_frames=chunk_frames, refine=refine)
        if out.ndim == 1:
            out = out.unsqueeze(0)
        return Resynthesis(out[..., :n], self.sample_rate, resampled_from)


def _check_refine(refine: Any) -> int:
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise ParameterError(f"refine={refine!r} must be an integer >= 0 (mel-consistency steps)")
    return refine


def load_vocoder(
    model: str | os.PathLike[str] = "music-vocoder", *, device: Any = "cpu", refine: int = 0
) -> Vocoder:
    """:class:`Vocoder` of a model file or shipped name (see there)."""
    return Vocoder(model, device=device, refine=refine)


def vocode_file(
    vocoder: Vocoder,
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    refine: int | None = None,
) -> tuple[Path, Resynthesis]:
    """Resynthesise one audio file into ``out_dir/<name>.wav`` (PCM 16, the model's rate);
    ``refine``: mel-consistency steps (default: the vocoder's own ``refine``).

    Raises
    ------
    AudioFileError
        The file cannot be decoded (named).
    ParameterError
        The audio is too short or not finite.
    """
    import soundfile as sf

    from torchmusic.audio import load

    src = Path(path)
    y, sr = load(src, sr=None, mono=False)
    try:
        result = vocoder.resynthesize(y, sr, refine=refine)
    except ParameterError as exc:
        raise DataError(f"{str(src)!r}: {exc}") from None
    out = Path(out_dir) / f"{src.stem}.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    sf.write(
        tmp, result.audio.clamp(-1, 1).T.numpy(), result.sample_rate, subtype="PCM_16", format="WAV"
    )
    os.replace(tmp, out)
    return out, result


__all__ = ["CHUNK_FRAMES", "Resynthesis", "Vocoder", "load_vocoder", "vocode_file"]


def compare_with_griffin_lim(
    vocoder: Vocoder, audio: Any, *, n_iter: int = 32, refine: int = 0
) -> dict[str, dict[str, float]]:
    """Scores of the vocoder's resynthesis of ``audio`` next to Griffin-Lim's, from one mel.

    ``audio`` is mono at the vocoder's rate. Griffin-Lim is librosa's
    ``feature.inverse.mel_to_audio`` of the same log-mel (``n_iter`` iterations);
    each row gets log-mel L1 (dB), MR-STFT distance and SI-SDR against ``audio``
    (:mod:`torchmusic.metrics.audio`). Needs librosa (``pip install librosa``).

    ``refine`` > 0 adds a row ``"vocoder +refine N"``: the same network output after
    that many mel-consistency steps.

    Returns
    -------
    dict
        ``{"vocoder": {...}, ["vocoder +refine N": {...},] "griffin-lim N": {...}}``
        with ``log_mel_l1_db``, ``mr_stft`` and ``si_sdr_db``.
    """
    try:
        import librosa
    except ImportError:  # pragma: no cover - librosa is a test dependency
        raise ParameterError(
            "the Griffin-Lim comparison needs librosa: pip install librosa"
        ) from None
    from torchmusic.metrics.audio import log_mel_l1, mr_stft_distance, si_sdr

    y = torch.as_tensor(audio, dtype=torch.float32).reshape(-1)
    f = vocoder.feature
    mel = f.compute(y)
    ours = vocoder(mel, refine=0)[: y.shape[-1]]
    estimates = [("vocoder", ours)]
    if refine:
        estimates.append((f"vocoder +refine {refine}", vocoder(mel, refine=refine)[: y.shape[-1]]))
    gl = librosa.feature.inverse.mel_to_audio(
        librosa.db_to_power(mel.numpy()), sr=f.sr, n_fft=f.n_fft, hop_length=f.hop_length,
        win_length=f.win_length, window=f.window, center=f.center, pad_mode=f.pad_mode,
        power=f.power, n_iter=n_iter, htk=f.htk, norm=f.norm, fmin=f.fmin, fmax=f.fmax,
    )  # fmt: skip
    gl = torch.from_numpy(gl[: y.shape[-1]]).float()
    gl = torch.nn.functional.pad(gl, (0, y.shape[-1] - gl.shape[-1]))
    rows = {}
    for name, est in [*estimates, (f"griffin-lim {n_iter}", gl)]:
        ref, e = y.double(), est.double()
        rows[name] = {
            "log_mel_l1_db": float(log_mel_l1(ref, e)),
            "mr_stft": float(mr_stft_distance(ref, e)["mr_stft"]),
            "si_sdr_db": float(si_sdr(ref, e)),
        }
    return rows
