"""Using a denoiser: the neural model, the DSP baselines, or a chain of them, on any audio.

- :class:`Denoiser` wraps a denoiser model file (or the shipped ``music-denoiser``):
  ``denoiser(y, sr)`` returns ``y`` denoised, same shape, type, dtype and device.
- :func:`denoise` runs a *method*: ``"neural"``, one of the baselines of
  :mod:`torchmusic.enhance` (``"gate"``, ``"gate-nonstationary"``, ``"wiener"``,
  ``"mmse"``, ``"dehum"``, ``"declick"``) or a comma-separated chain of them applied
  in order (``"dehum,declick,neural"``).
- :func:`denoise_file` does one audio file -> one WAV file, never over its input.

How the neural model is applied:

- **Rates.** The network works at its own rate (22,050 Hz for the CPU profile).
  Other input is resampled to it (soxr HQ), denoised, and the *change* is resampled
  back and added to the input: ``out = y + strength * up(est - down(y))``. So the
  band above the model's Nyquist frequency passes through from the input untouched,
  and the output has the input's rate and length.
- **Stereo.** ``stereo="shared"`` (default): one mask (and deep filter) computed
  from the mid channel (the channels' mean) is applied to every channel, so both
  channels get the same gain in every time-frequency bin and the stereo image
  cannot wander; costs one network pass. ``stereo="per-channel"`` denoises each
  channel on its own (for channels with different noise, e.g. a worn left groove).
- **Long inputs** are processed ``chunk_frames`` STFT frames at a time with
  ``context_frames`` of context on each side, which is then dropped. The network's
  reach over time is finite (:meth:`DenoiserUNet.receptive_frames`), and the context
  is more than that reach plus the STFT's overlap, so every output sample equals
  whole-file processing (to float rounding): no seams, and the network's memory is
  bounded by the chunk size whatever the length (the signal itself, its resampled
  copy and the output are held whole: a few times the audio's size).
- **Strength** ``s`` in [0, 1] blends: ``out = y + s * (estimate - y)``; 0 returns the
  input exactly, 1 the model's estimate. (The baselines scale what they remove their
  own way; see :mod:`torchmusic.enhance`.) In a chain every step gets ``strength``.

No Lightning and no training code are imported here.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchmusic.errors import DataError, ParameterError

#: STFT frames per chunk (about 12 s at the CPU profile): bounds memory.
CHUNK_FRAMES = 1024
#: What the baselines are called in ``method`` (``"neural"`` is the model).
METHODS = ("neural", "gate", "gate-nonstationary", "wiener", "mmse", "dehum", "declick")
STEREO_MODES = ("shared", "per-channel")


# -- checks ---------------------------------------------------------------------------------
def _check_audio(y: Any, name: str = "y") -> torch.Tensor:
    """``y`` as a float tensor ``(channels, samples)`` (not a copy when avoidable), checked."""
    if isinstance(y, torch.Tensor):
        floating = y.is_floating_point()
    elif isinstance(y, np.ndarray):
        floating = np.issubdtype(y.dtype, np.floating)
    else:
        raise ParameterError(
            f"{name} must be a numpy array or torch tensor, got {type(y).__name__}"
        )
    if not floating:
        raise ParameterError(
            f"{name} has dtype {y.dtype}; expected floating-point audio (convert integer PCM "
            "with e.g. y / 32768)"
        )
    t = (
        y.detach()
        if isinstance(y, torch.Tensor)
        else torch.from_numpy(
            np.ascontiguousarray(y, dtype=np.float32 if y.dtype == np.float16 else y.dtype)
        )
    )
    if t.ndim not in (1, 2) or t.shape[-1] == 0 or t.numel() == 0:
        raise ParameterError(
            f"{name} has shape {tuple(t.shape)}; expected (samples,) or (channels, samples)"
        )
    t = t.reshape(-1, t.shape[-1])
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        channel, sample = (int(i[0]) for i in torch.nonzero(bad, as_tuple=True))
        what = "NaN" if bool(torch.isnan(t[channel, sample])) else "Inf"
        raise ParameterError(
            f"{name} contains {int(bad.sum())} non-finite samples ({what} first, at sample "
            f"{sample} of channel {channel}); remove them before denoising"
        )
    return t


def _check_sr(sr: Any) -> int:
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise ParameterError(f"sr={sr!r} must be a positive int (Hz)")
    return int(sr)


def _check_strength(strength: Any) -> float:
    ok = isinstance(strength, int | float | np.floating) and not isinstance(strength, bool)
    if not ok or not 0 <= strength <= 1:
        raise ParameterError(f"strength={strength!r} must be a number in [0, 1]")
    return float(strength)


def _check_stereo(stereo: Any) -> str:
    if stereo not in STEREO_MODES:
        raise ParameterError(f"stereo={stereo!r}; expected one of {STEREO_MODES}")
    return stereo


def parse_method(method: Any) -> list[str]:
    """``"dehum, declick,neural"`` -> ``["dehum", "declick", "neural"]``, checked.

    Raises
    ------
    ParameterError
        Empty, or a step that is not one of :data:`METHODS` (named, with the list).

    Examples
    --------
    >>> parse_method("dehum,neural")
    ['dehum', 'neural']
    """
    if isinstance(method, str):
        steps = [s.strip().lower() for s in method.split(",")]
    elif isinstance(method, list | tuple):
        steps = [str(s).strip().lower() for s in method]
    else:
        raise ParameterError(
            f"method={method!r} must be a string such as 'neural' or 'dehum,neural'"
        )
    if not steps or any(not s for s in steps):
        raise ParameterError(
            f"method={method!r} has an empty step; expected e.g. 'dehum,declick,neural'"
        )
    unknown = [s for s in steps if s not in METHODS]
    if unknown:
        raise ParameterError(
            f"method={method!r}: unknown step(s) {unknown}; expected some of {METHODS}"
        )
    return steps


def _restore(out: torch.Tensor, like: Any) -> Any:
    """``out`` ``(channels, samples)`` in the shape, type, dtype and device of ``like``."""
    out = out[0] if like.ndim == 1 else out
    if isinstance(like, torch.Tensor):
        return out.to(dtype=like.dtype, device=like.device)
    return out.cpu().numpy().astype(like.dtype, copy=False)


def _copy(y: Any) -> Any:
    return y.clone() if isinstance(y, torch.Tensor) else np.array(y, copy=True)


# -- the neural model -----------------------------------------------------------------------
class Denoiser:
    """A loaded denoiser model file.

    Parameters
    ----------
    model : str or os.PathLike
        Denoiser model file or shipped name (``"music-denoiser"``).
    device : str or torch.device
        Where the network runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``).

    Attributes
    ----------
    sample_rate : int
        The network's rate; other input is resampled (see the module notes).
    spec : DenoiserSpec
    net : DenoiserUNet

    Examples
    --------
    >>> den = Denoiser("music-denoiser")  # doctest: +SKIP
    >>> clean = den(noisy, 44100)  # (2, n) in, (2, n) out, at 44.1 kHz  # doctest: +SKIP
    """

    def __init__(self, model: str | os.PathLike[str] = "music-denoiser", *, device: Any = "cpu"):
        from torchmusic.models.denoise.denoiserfile import load_denoiser_file

        self.device = torch.device(device)
        self.net, self.spec = load_denoiser_file(model, device=self.device)
        self.net.eval()
        self.path = str(model)
        self.sample_rate = int(self.spec.sample_rate)
        self.hop = int(self.net.config.hop_length)
        # Reach of the network plus the frames an output sample's overlap-add uses, and
        # a margin: with this much context a chunk's kept samples equal whole-file ones.
        self.context_frames = int(
            self.net.receptive_frames() + self.net.config.n_fft // self.hop + 2
        )

    def __repr__(self) -> str:
        return f"Denoiser({self.path!r}, architecture={self.spec.architecture!r}, sr={self.sample_rate})"

    @torch.inference_mode()
    def enhance(
        self,
        audio: torch.Tensor,
        *,
        stereo: str = "shared",
        chunk_frames: int = CHUNK_FRAMES,
        context_frames: int | None = None,
    ) -> torch.Tensor:
        """The network's estimate of ``audio`` at the model's rate, chunk by chunk.

        Parameters
        ----------
        audio : torch.Tensor
            ``(channels, samples)`` float at :attr:`sample_rate`, finite.
        stereo : {"shared", "per-channel"}
            One mask from the channels' mean for all, or one per channel.
        chunk_frames, context_frames : int
            Frames kept per chunk and frames of context on each side (default: enough
            for whole-file equality, :attr:`context_frames`).

        Returns
        -------
        torch.Tensor
            ``(channels, samples)`` float32 on the CPU.
        """
        ctx = self.context_frames if context_frames is None else context_frames
        if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, int) or chunk_frames < 1:
            raise ParameterError(f"chunk_frames={chunk_frames!r} must be an int >= 1")
        if isinstance(ctx, bool) or not isinstance(ctx, int) or ctx < 0:
            raise ParameterError(f"context_frames={ctx!r} must be an int >= 0")
        _check_stereo(stereo)
        x = audio.float().cpu()
        n = x.shape[-1]
        n_fft, hop = self.net.config.n_fft, self.hop
        if n < n_fft:  # the centred STFT's reflect padding needs n_fft // 2 + 1 samples
            x = torch.nn.functional.pad(x, (0, n_fft - n))
        total = x.shape[-1] // hop + 1  # frames of the whole signal
        pieces = []
        for start in range(0, total, chunk_frames):
            stop = min(total, start + chunk_frames)
            lo, hi = max(0, start - ctx), min(total, stop + ctx)
            # Frames lo..hi-1 of the whole signal are the chunk's frames 0..: it starts on
            # a frame's centre; its edge frames differ (padding), but only in the context.
            chunk = x[:, lo * hop : min(x.shape[-1], hi * hop)]
            if chunk.shape[-1] < n_fft:  # a last chunk with little context: zeros after it
                chunk = torch.nn.functional.pad(chunk, (0, n_fft - chunk.shape[-1]))
            out = self._run(chunk, stereo)
            pieces.append(out[:, (start - lo) * hop : (stop - lo) * hop])
        return torch.cat(pieces, dim=-1)[:, :n]

    def _run(self, chunk: torch.Tensor, stereo: str) -> torch.Tensor:
        net = self.net
        x = chunk.to(self.device)
        spec = net.stft(x)  # (channels, bins, frames)
        if stereo == "shared" and x.shape[0] > 1:
            mask, coefs = net.estimate(net.stft(x.mean(dim=0, keepdim=True)))
        else:
            mask, coefs = net.estimate(spec)
        est = net.apply(spec, mask, coefs)
        return net.istft(est, x.shape[-1]).float().cpu()

    def __call__(
        self,
        y: Any,
        sr: int,
        *,
        strength: float = 1.0,
        stereo: str = "shared",
        chunk_frames: int = CHUNK_FRAMES,
        context_frames: int | None = None,
    ) -> Any:
        """Denoise ``y`` (any rate; see the module notes on rates, stereo and strength).

        Parameters
        ----------
        y : np.ndarray or torch.Tensor
            ``(samples,)`` or ``(channels, samples)``, floating point, finite.
        sr : int
            Its sample rate (Hz).
        strength : float in [0, 1]
            Blend of the estimate with the input; 0 returns the input exactly.
        stereo : {"shared", "per-channel"}
        chunk_frames, context_frames : int
            See :meth:`enhance`.

        Returns
        -------
        np.ndarray or torch.Tensor
            Same shape, type, dtype and device as ``y``, at ``sr``.

        Raises
        ------
        ParameterError
            Not float audio, NaN/Inf samples (counted, the first located), a bad rate,
            strength or stereo mode.
        """
        x = _check_audio(y)
        sr, strength = _check_sr(sr), _check_strength(strength)
        _check_stereo(stereo)
        if strength == 0:
            return _copy(y)
        from torchmusic.audio import resample

        # float64 only for float64 input: the whole-signal buffers (input, resampled copy,
        # change) are what grows with the length, the network's memory is per chunk.
        work = x.to("cpu", torch.float64 if x.dtype == torch.float64 else torch.float32)
        msr = self.sample_rate
        down = resample(work, orig_sr=sr, target_sr=msr) if sr != msr else work
        est = self.enhance(
            down, stereo=stereo, chunk_frames=chunk_frames, context_frames=context_frames
        )
        delta = est.to(work.dtype) - down
        if sr != msr:
            # The change, not the estimate, goes back up: what the model cannot see
            # (above its Nyquist frequency) stays exactly as it was.
            delta = resample(delta, orig_sr=msr, target_sr=sr)
            delta = torch.nn.functional.pad(delta, (0, max(0, x.shape[-1] - delta.shape[-1])))
            delta = delta[:, : x.shape[-1]]
        return _restore(work + strength * delta, y)


def load_denoiser(
    model: str | os.PathLike[str] = "music-denoiser", *, device: Any = "cpu"
) -> Denoiser:
    """:class:`Denoiser` of a model file or shipped name (see there)."""
    return Denoiser(model, device=device)


# -- methods and chains ---------------------------------------------------------------------
def _profile(noise_profile: Any, sr: int) -> Any:
    """A noise profile as audio at ``sr``: arrays are taken as they are, paths loaded."""
    if noise_profile is None or isinstance(noise_profile, np.ndarray | torch.Tensor):
        return noise_profile
    if isinstance(noise_profile, str | os.PathLike):
        from torchmusic.audio import load

        y, _ = load(noise_profile, sr=sr, mono=False)
        return y[0] if y.shape[0] == 1 else y
    raise ParameterError(
        f"noise_profile must be audio (array or tensor at sr) or a path, got {type(noise_profile).__name__}"
    )


def denoise(
    y: Any,
    sr: int,
    *,
    model: Denoiser | str | os.PathLike[str] = "music-denoiser",
    method: str = "neural",
    strength: float = 1.0,
    noise_profile: Any = None,
    device: Any = "cpu",
    stereo: str = "shared",
) -> Any:
    """Denoise music with the neural model, a DSP baseline, or a chain of them.

    Parameters
    ----------
    y : np.ndarray or torch.Tensor
        ``(samples,)`` or ``(channels, samples)``, floating point, finite.
    sr : int
        Its sample rate (Hz); any rate.
    model : Denoiser, str or os.PathLike
        A loaded :class:`Denoiser` (reuse it across calls: loading costs more than a
        short clip), a model file or a shipped name; only loaded when ``method`` has a
        ``neural`` step.
    method : str
        One of :data:`METHODS` or a comma-separated chain applied in order, e.g.
        ``"dehum,declick,neural"`` (hum and clicks first: the spectral methods keep
        tonal noise, and a click smears over a whole STFT frame).
    strength : float in [0, 1]
        How much noise to remove, given to every step; 0 returns the input exactly.
    noise_profile : array, tensor or path, optional
        A clip of the noise alone, for the ``gate`` step (its mean spectrum is the
        noise estimate). Audio at ``sr``, or a file (loaded at ``sr``). A mono profile
        serves every channel of stereo input.
    device : str or torch.device
        Where the network runs (when ``model`` is not already loaded).
    stereo : {"shared", "per-channel"}
        How the network treats stereo (see the module notes); the baselines share one
        mask between channels (gate, wiener) or work per channel (declick, dehum).

    Returns
    -------
    np.ndarray or torch.Tensor
        Same shape, type, dtype and device as ``y``, at ``sr``.

    Raises
    ------
    ParameterError
        Bad audio (NaN/Inf named), rate, strength or method; a ``noise_profile`` with
        no ``gate`` step to use it, or one the gate refuses (shorter than its frame).
    DataError
        The model file is missing, of another kind (a classifier is named as one) or
        corrupt.

    Examples
    --------
    >>> out = denoise(noisy, 44100, method="dehum,declick,neural", strength=0.8)  # doctest: +SKIP
    >>> out = denoise(noisy, 44100, method="gate", noise_profile="hiss.wav")  # doctest: +SKIP
    """
    _check_audio(y)
    sr, strength = _check_sr(sr), _check_strength(strength)
    steps = parse_method(method)
    _check_stereo(stereo)
    if noise_profile is not None and "gate" not in steps:
        raise ParameterError(
            f"noise_profile is used by the 'gate' step only, and method={method!r} has none "
            "(try method='gate' or 'dehum,gate')"
        )
    if strength == 0:
        return _copy(y)
    net = None
    if "neural" in steps:
        net = model if isinstance(model, Denoiser) else Denoiser(model, device=device)
    profile = _profile(noise_profile, sr)
    from torchmusic import enhance

    out = y
    for step in steps:
        if step == "neural":
            out = net(out, sr, strength=strength, stereo=stereo)
        elif step == "gate":
            out = enhance.spectral_gate(out, sr, noise_profile=profile, strength=strength)
        elif step == "gate-nonstationary":
            out = enhance.spectral_gate(out, sr, stationary=False, strength=strength)
        elif step == "wiener":
            out = enhance.wiener(out, sr, strength=strength)
        elif step == "mmse":
            out = enhance.wiener(out, sr, gain="mmse-stsa", strength=strength)
        elif step == "dehum":
            out = enhance.dehum(out, sr, strength=strength)
        else:
            out = enhance.declick(out, sr, strength=strength)
    return out


def denoise_file(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    model: Denoiser | str | os.PathLike[str] = "music-denoiser",
    method: str = "neural",
    strength: float = 1.0,
    noise_profile: Any = None,
    stereo: str = "shared",
) -> dict[str, Any]:
    """Denoise one audio file into ``out_path`` (WAV, 24-bit, the input's rate and channels).

    Returns
    -------
    dict
        ``seconds``, ``sr``, ``channels``, ``clipped`` (samples beyond full scale,
        clipped when written) and ``notes`` (warnings of the steps, e.g. "no hum found").

    Raises
    ------
    DataError
        ``out_path`` is the input file itself (never overwritten), or the audio is
        refused (NaN samples, ...), naming the file.
    AudioFileError
        The file cannot be decoded (named).
    """
    from torchmusic.audio import load, save

    src, dst = Path(path), Path(out_path)
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise DataError(f"output {str(dst)!r} is the input file itself; it is never overwritten")
    y, sr = load(src, sr=None, mono=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = denoise(
                y, sr, model=model, method=method, strength=strength,
                noise_profile=noise_profile, stereo=stereo,
            )  # fmt: skip
        except ParameterError as exc:
            raise DataError(f"{str(src)!r}: {exc}") from None
    clipped = int((out.abs() > 1).sum())
    dst.parent.mkdir(parents=True, exist_ok=True)
    save(dst, out.clamp(-1, 1), sr, subtype="PCM_24", format="WAV")
    return {
        "seconds": y.shape[-1] / sr,
        "sr": sr,
        "channels": y.shape[0],
        "clipped": clipped,
        "notes": sorted({str(w.message) for w in caught}),
    }


__all__ = [
    "CHUNK_FRAMES",
    "METHODS",
    "Denoiser",
    "denoise",
    "denoise_file",
    "load_denoiser",
    "parse_method",
]
