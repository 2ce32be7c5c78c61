"""ONNX export of the vocoder generators: log-mel ``(batch, n_mels, frames)`` -> ``(batch, samples)``.

- :func:`export_onnx` exports a :class:`~torchmusic.models.vocoder.Vocos`,
  :class:`~torchmusic.models.vocoder.HiFiGAN` or :class:`~torchmusic.models.vocoder.MelGAN`
  network with dynamic ``batch`` and ``frames`` axes (input ``mel``, output ``audio``).
- :func:`export_vocoder_onnx` does it for a vocoder model file or shipped name and stores
  the log-mel settings the model expects in the ONNX file's metadata.

``torch.istft`` has no ONNX translation that keeps the frame count dynamic, so Vocos is
exported through :class:`OverlapAddISTFT`: the same inverse STFT written as one
``conv_transpose1d`` (inverse real DFT basis x window, overlap-added by the stride) and
a division by the summed squared window. It is used only for export and equals
``torch.istft`` to float precision (tested). HiFi-GAN and MelGAN are plain convolutions
and export as they are (weight norm folded first).

Needs ``onnx`` and ``onnxscript`` (the ``onnx`` extra); ``onnxruntime`` runs the result.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import DependencyError, ParameterError

#: Names of the exported graph's input and output.
INPUT_NAME, OUTPUT_NAME = "mel", "audio"
#: ``metadata_props`` key under which :func:`export_vocoder_onnx` stores the model's facts.
METADATA_KEY = "torchmusic.vocoder"
#: Frames of the example input traced at export (any count works afterwards).
EXAMPLE_FRAMES = 16


def min_frames(model: nn.Module) -> int:
    """The fewest mel frames the exported graph of ``model`` takes.

    1, except MelGAN: 4. Its input layer pads 3 frames by reflection, which needs more
    than 3 frames; in PyTorch a shorter input falls back to zero padding, a branch an
    exported graph cannot keep, so the graph keeps the reflection and the 4-frame minimum.
    """
    from torchmusic.models.vocoder.melgan import MelGAN

    return 4 if isinstance(model, MelGAN) else 1


class OverlapAddISTFT(nn.Module):
    """``torch.istft(center=True, onesided, win_length=n_fft)`` without FFT ops.

    The inverse real DFT of each frame times the synthesis window is a fixed linear map
    of the frame's real and imaginary parts, so ``conv_transpose1d`` with that map as its
    kernel and ``hop_length`` as its stride does the per-frame inverse DFT and the
    overlap-add in one op; the result is divided by the overlap-added squared window
    (as ``torch.istft`` does) and the ``n_fft // 2`` centring padding is cut off.

    Parameters
    ----------
    n_fft, hop_length : int
    window : torch.Tensor or None
        Length ``n_fft``; None is a periodic Hann window (``torch.hann_window``).

    Examples
    --------
    >>> istft = OverlapAddISTFT(16, 4)
    >>> spec = torch.randn(1, 9, 5, dtype=torch.complex64)
    >>> y = istft(spec.real, spec.imag, 16)
    >>> ref = torch.istft(spec, 16, 4, window=torch.hann_window(16), length=16)
    >>> bool((y - ref).abs().max() < 1e-5)
    True
    """

    basis: torch.Tensor
    window_sq: torch.Tensor

    def __init__(self, n_fft: int, hop_length: int, window: torch.Tensor | None = None) -> None:
        super().__init__()
        if not 0 < hop_length <= n_fft:
            raise ParameterError(f"hop_length={hop_length} must be in 1..n_fft={n_fft}")
        w = torch.hann_window(n_fft, dtype=torch.float64) if window is None else window
        w = w.detach().to(torch.float64).cpu()
        if w.shape != (n_fft,):
            raise ParameterError(f"window has shape {tuple(w.shape)}; expected ({n_fft},)")
        self.n_fft, self.hop_length = n_fft, hop_length
        bins = n_fft // 2 + 1
        k = torch.arange(bins, dtype=torch.float64)[:, None]
        n = torch.arange(n_fft, dtype=torch.float64)[None, :]
        angle = 2 * math.pi * k * n / n_fft
        # irfft: x[n] = (1/N) sum_k c_k (Re X_k cos - Im X_k sin), c_k = 2 except the DC
        # and Nyquist bins (once each; their imaginary parts meet sin = 0, so drop out).
        c = torch.full((bins, 1), 2.0, dtype=torch.float64)
        c[0] = 1.0
        if n_fft % 2 == 0:
            c[-1] = 1.0
        cos = c * torch.cos(angle) / n_fft * w
        sin = -c * torch.sin(angle) / n_fft * w
        self.register_buffer("basis", torch.cat([cos, sin]).float()[:, None, :], persistent=False)
        self.register_buffer("window_sq", (w**2).float()[None, None, :], persistent=False)

    def forward(self, real: torch.Tensor, imag: torch.Tensor, length: Any) -> torch.Tensor:
        """``(batch, n_fft // 2 + 1, frames)`` real and imaginary parts -> ``(batch, length)``.

        ``length`` (at most ``(frames - 1) * hop_length``) may be a traced size.
        """
        frames = torch.cat([real, imag], dim=1)
        y = F.conv_transpose1d(frames, self.basis, stride=self.hop_length)
        ones = torch.ones_like(real[:1, :1, :])
        envelope = F.conv_transpose1d(ones, self.window_sq, stride=self.hop_length)
        start = self.n_fft // 2
        y = y[:, 0, start : start + length]
        envelope = envelope[:, 0, start : start + length]
        return y / envelope.clamp(min=1e-11)


class VocosForExport(nn.Module):
    """A :class:`~torchmusic.models.vocoder.Vocos` whose inverse STFT is :class:`OverlapAddISTFT`.

    Same output as the network it wraps (which it shares, not copies), for 3-D input.
    """

    def __init__(self, vocos: nn.Module) -> None:
        super().__init__()
        self.vocos = vocos
        self.istft = OverlapAddISTFT(vocos.config.n_fft, vocos.config.hop_length, vocos.window)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        mag, phase = self.vocos.magnitude_phase(mel)
        real, imag = mag * torch.cos(phase), mag * torch.sin(phase)
        # As Vocos.forward: one repeated frame covers the tail past the last frame's centre.
        real = torch.cat([real, real[..., -1:]], dim=-1)
        imag = torch.cat([imag, imag[..., -1:]], dim=-1)
        return self.istft(real, imag, mel.shape[-1] * self.vocos.config.hop_length)


def plain_copy(model: nn.Module) -> nn.Module:
    """A new float32 CPU network of ``model``'s class in eval mode, weight norm folded in.

    Built from ``model.config`` (``weight_norm=False``) and loaded with ``model``'s
    effective weights. Not ``deepcopy`` + ``remove_weight_norm``: a deep copy shares the
    parametrized module classes with the original, and removing the parametrization
    from the copy deletes the ``weight`` property of that shared class, breaking the
    original.
    """
    config = model.config
    if getattr(config, "weight_norm", False):
        config = dataclasses.replace(config, weight_norm=False)
    fresh = type(model)(config)
    state = {}
    with torch.no_grad():
        for key in fresh.state_dict():
            owner, _, name = key.rpartition(".")
            module = model.get_submodule(owner) if owner else model
            state[key] = getattr(module, name).detach().clone()
    fresh.load_state_dict(state)
    return fresh.float().cpu().eval()


def _exportable(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode, weight norm folded, Vocos wrapped for export."""
    from torchmusic.models.vocoder.hifigan import HiFiGAN
    from torchmusic.models.vocoder.melgan import MelGAN
    from torchmusic.models.vocoder.vocos import Vocos

    if not isinstance(model, (Vocos, HiFiGAN, MelGAN)):
        raise ParameterError(
            f"ONNX export takes a vocoder generator (Vocos, HiFiGAN or MelGAN), got "
            f"{type(model).__name__}"
        )
    net = plain_copy(model)
    return VocosForExport(net) if isinstance(net, Vocos) else net


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise ParameterError(f"{path} is a folder; expected the .onnx file to write")
    if not path.parent.is_dir():
        raise ParameterError(f"{path}: its folder {path.parent} does not exist")


def _require_exporter() -> None:
    missing = []
    for name in ("onnx", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise DependencyError(
            f"ONNX export needs {' and '.join(missing)}: pip install 'torchmusic[onnx]' "
            "(onnx, onnxscript and onnxruntime)"
        )


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    opset_version: int | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Export a vocoder generator to one ONNX file with dynamic batch and frame axes.

    Parameters
    ----------
    model : Vocos, HiFiGAN or MelGAN
        Not modified (a copy is exported, float32, on the CPU, weight norm folded).
    path : str or os.PathLike
        The ``.onnx`` file to write (weights inside it); its folder must exist.
    opset_version : int or None
        ONNX opset; None is the exporter's default.
    metadata : dict of str or None
        Written to the model's ``metadata_props``.

    Returns
    -------
    Path
        ``path``. The graph's input ``mel`` is ``(batch, n_mels, frames)`` float32 dB
        log-mel, ``frames >= min_frames(model)``; its output ``audio`` is
        ``(batch, frames * hop_length)``.

    Raises
    ------
    ParameterError
        ``model`` is not a vocoder generator, ``path`` is a folder or its folder does
        not exist.
    DependencyError
        onnx or onnxscript is not installed.

    Examples
    --------
    >>> from torchmusic.models.vocoder import build_vocoder
    >>> export_onnx(build_vocoder("vocos"), "vocos.onnx")  # doctest: +SKIP
    PosixPath('vocos.onnx')
    """
    path = Path(path)
    _check_output(path)
    net = _exportable(model)
    _require_exporter()
    import warnings

    import onnx

    n_mels = model.config.n_mels
    example = torch.randn(2, n_mels, EXAMPLE_FRAMES) * 20 - 40
    # At least 2 keeps the tracer from specialising on 0 / 1; the graph still runs 1 frame
    # where min_frames says so (tested).
    low = max(2, min_frames(model))
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("frames", min=low)}
    tmp = path.with_name(path.name + ".tmp")  # written whole, then renamed: no half files
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter
            torch.onnx.export(
                net,
                (example,),
                tmp,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=(dims,),
                opset_version=opset_version,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        proto = onnx.load(str(tmp))
        for key, value in (metadata or {}).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def export_vocoder_onnx(
    model: str | os.PathLike[str], path: str | os.PathLike[str], **kwargs: Any
) -> Path:
    """Export a vocoder model file (or shipped name, e.g. ``"music-vocoder"``) to ONNX.

    The file's metadata (``metadata_props[METADATA_KEY]``) holds JSON with the
    architecture, sample rate, hop and the log-mel's ``FeatureConfig`` as a dict: compute
    the input with ``FeatureConfig.from_dict(meta["feature"]).compute(audio)``.

    Raises
    ------
    DataError
        ``model`` is missing, not a vocoder model file (the kind it is, is named), or corrupt.
    ParameterError
        ``path`` is a folder, its folder does not exist, or it is ``model`` itself.
    DependencyError
        onnx or onnxscript is not installed.
    """
    from torchmusic.models.vocoder.vocoderfile import load_vocoder_file

    path = Path(path)
    _check_output(path)
    if path.exists() and Path(model).exists() and path.samefile(model):
        raise ParameterError(f"{path} is the model file itself; write the .onnx elsewhere")
    net, spec = load_vocoder_file(model)
    facts = {
        "architecture": spec.architecture,
        "sample_rate": spec.sample_rate,
        "hop_length": int(net.config.hop_length),
        "n_mels": int(net.config.n_mels),
        "min_frames": min_frames(net),
        "feature": spec.feature,
        "source": str(model),
        "input": f"{INPUT_NAME}: (batch, n_mels, frames) float32 dB log-mel",
        "output": f"{OUTPUT_NAME}: (batch, frames * hop_length) float32 audio",
    }
    return export_onnx(net, path, metadata={METADATA_KEY: json.dumps(facts)}, **kwargs)
