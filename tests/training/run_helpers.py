"""Helpers shared by the training tests: read a run's last checkpoint, and kill a
training subprocess with SIGKILL once it has saved a step checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import torch


def last_checkpoint(run: Path) -> dict:
    """``run/checkpoints/last.ckpt``, loaded without unpickling anything."""
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def kill_after_step_checkpoint(
    cmd: list[str], run: Path, *, step: int = 3, deadline_s: float = 240
) -> dict:
    """Start ``cmd``, SIGKILL it once ``run``'s last checkpoint reaches ``step`` (it must
    still be running then: a finished run is a test failure), and return that checkpoint."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = run / "checkpoints" / "last.ckpt"
    try:
        deadline = time.time() + deadline_s
        while time.time() < deadline and proc.poll() is None:
            if last.is_file():
                try:
                    if last_checkpoint(run)["global_step"] >= step:
                        break
                except Exception:  # being written
                    pass
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert last.is_file(), f"no step checkpoint within {deadline_s} s (machine too loaded?)"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return last_checkpoint(run)
