"""``torchmusic info``: versions, compute device and threads, for bug reports."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import shutil


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _driver_gpus() -> list[str]:
    """NVIDIA GPUs the kernel driver reports (``/proc/driver/nvidia/gpus``), without torch."""
    root = "/proc/driver/nvidia/gpus"
    names = []
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return []
    for entry in entries:
        try:
            with open(os.path.join(root, entry, "information"), encoding="utf-8") as f:
                model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("Model")), "")
        except OSError:
            model = ""
        names.append(model or "NVIDIA GPU")
    return names


def _torch_facts() -> dict[str, str]:
    """Device and threads as torch sees them (imports torch: about 2 s)."""
    import torch

    facts = {"torch": torch.__version__}
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        facts["device"] = f"cuda ({torch.cuda.device_count()}x: {', '.join(names)})"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        facts["device"] = "mps"
    else:
        facts["device"] = "cpu (no CUDA device found)"
    facts["torch threads"] = str(torch.get_num_threads())
    return facts


def _quick_facts() -> dict[str, str]:
    """Device and threads without importing torch (what the driver and environment say)."""
    gpus = _driver_gpus()
    if gpus:
        device = f"cuda? ({len(gpus)}x: {', '.join(gpus)}, seen by the NVIDIA driver; --torch checks)"
    else:
        device = "cpu (no NVIDIA driver found; --torch asks torch)"
    threads = os.environ.get("OMP_NUM_THREADS") or str(os.cpu_count())
    return {"torch": _version("torch"), "device": device, "torch threads": f"{threads} (expected)"}


def collect(*, with_torch: bool = True) -> dict[str, str]:
    """Facts about this installation as ``{name: value}``.

    ``with_torch=False`` answers in well under a second: torch's version comes from
    its package metadata and the device from the NVIDIA driver, not from torch.
    """
    import soundfile

    import torchmusic

    facts = {
        "torchmusic": torchmusic.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    facts.update(_torch_facts() if with_torch else _quick_facts())
    for dist in ("numpy", "soundfile", "soxr", "librosa", "music21"):
        facts[dist] = _version(dist)
    facts["libsndfile"] = soundfile.__libsndfile_version__
    facts["cpu count"] = str(os.cpu_count())
    facts["fluidsynth"] = shutil.which("fluidsynth") or "not found (apt-get install fluidsynth)"
    return facts


def run(args: argparse.Namespace) -> int:
    facts = collect(with_torch=getattr(args, "torch", False))
    width = max(map(len, facts))
    for key, value in facts.items():
        print(f"{key:<{width}}  {value}")
    return 0
