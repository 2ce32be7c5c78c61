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


def collect() -> dict[str, str]:
    """Facts about this installation as ``{name: value}``."""
    import soundfile
    import torch

    import torchmusic

    facts = {
        "torchmusic": torchmusic.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
    }
    for dist in ("numpy", "soundfile", "soxr", "librosa", "music21"):
        facts[dist] = _version(dist)
    facts["libsndfile"] = soundfile.__libsndfile_version__
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        facts["device"] = f"cuda ({torch.cuda.device_count()}x: {', '.join(names)})"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        facts["device"] = "mps"
    else:
        facts["device"] = "cpu (no CUDA device found)"
    facts["torch threads"] = str(torch.get_num_threads())
    facts["cpu count"] = str(os.cpu_count())
    facts["fluidsynth"] = shutil.which("fluidsynth") or "not found (apt-get install fluidsynth)"
    return facts


def run(args: argparse.Namespace) -> int:
    facts = collect()
    width = max(map(len, facts))
    for key, value in facts.items():
        print(f"{key:<{width}}  {value}")
    return 0
