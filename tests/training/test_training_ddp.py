"""Two-process DDP training on CPU (gloo), launched the way a user would."""

from __future__ import annotations

import subprocess
import sys

import torch

from torchmusic.models import load_classifier


def test_two_process_ddp_on_cpu(tmp_path, demo_manifest, feature_cache, tiny_cli_args):
    run = tmp_path / "run"
    # A subprocess: Lightning's DDP launcher re-runs the command for rank 1, and
    # the process group must not live inside the pytest process.
    cmd = [
        sys.executable, "-m", "torchmusic", "train", "classify",
        "--data", str(demo_manifest),
        "--arch", "simple_cnn",
        "--out", str(run),
        "--accelerator", "cpu",
        "--devices", "2",
        "--strategy", "ddp",
        "--no-progress",
        *tiny_cli_args("simple_cnn"),
        "--label_column", "tune_type",
        "--split_column", "split",
        "--batch_size", "2",
        "--max_epochs", "2",
        "--cache_dir", str(feature_cache),
        "--extract_workers", "1",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    # Only rank 0 reports and writes the model file.
    assert out.stdout.count("model file:") == 1
    assert sorted(p.name for p in run.glob("*.safetensors")) == ["model.safetensors"]
    model, spec = load_classifier(run / "model.safetensors")
    assert spec.labels == ["jig", "reel"]
    with torch.no_grad():
        assert model(torch.randn(2, 32, 87)).shape == (2, 2)
    # 4 training tracks, batch 2, 2 processes: one step per process per epoch.
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 2 and last["epoch"] == 1
