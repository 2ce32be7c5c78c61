"""A tiny real training run of every architecture, ending in a loadable model file."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic.models import load_classifier
from torchmusic.training import train_classifier
from torchmusic.training.classify.module import model_state_dict


def _csv_losses(run_dir) -> list[float]:
    (metrics_csv,) = run_dir.glob("csv/version_*/metrics.csv")
    rows = list(csv.DictReader(metrics_csv.open()))
    return [float(r["train_loss"]) for r in rows if r.get("train_loss")]


@pytest.mark.parametrize("model", ["simple_cnn", "crnn", "shortchunk"])
def test_tiny_training_run_of_each_model(tmp_path, make_config, demo_manifest, model):
    cfg = make_config(
        demo_manifest,
        tmp_path / "run",
        model=model,
        max_epochs=2,
        augment={"gain_db": 3.0, "time_mask": 0.1, "freq_mask": 0.1, "mixup": 0.2},
    )
    result = train_classifier(cfg, progress=False)

    losses = _csv_losses(result.run_dir)
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    for key in ("val_loss", "val_acc", "val_macro_f1", "test_acc", "test_macro_f1"):
        assert math.isfinite(result.metrics[key]), key
    assert result.metrics["epochs_trained"] == 2
    assert result.model_file == result.run_dir / "model.safetensors"

    loaded, spec = load_classifier(result.model_file)
    assert spec.architecture == model
    assert spec.labels == ["jig", "reel"]
    assert spec.multi_label is False
    assert spec.clip_seconds == 1.0 and spec.feature["n_mels"] == 32
    assert spec.metrics["val_macro_f1"] == pytest.approx(result.metrics["val_macro_f1"])
    assert spec.extra["train_config"]["model"] == model

    # Two validation tracks: keep_weights auto keeps the final epoch, not the "best".
    assert result.metrics["kept_weights"] == "last"
    assert result.metrics["best_checkpoint"] == "last.ckpt"
    assert not list((result.run_dir / "checkpoints").glob("best-*"))
    # The file holds exactly the evaluated checkpoint's weights.
    best = result.run_dir / "checkpoints" / result.metrics["best_checkpoint"]
    checkpoint = torch.load(best, map_location="cpu", weights_only=True)
    state = model_state_dict(checkpoint)
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, state[name]), name
    x = torch.randn(3, 32, 87)
    with torch.no_grad():
        assert loaded(x).shape == (3, 2)


def test_checkpoints_hold_only_plain_data(tmp_path, make_config, demo_manifest):
    result = train_classifier(make_config(demo_manifest, tmp_path / "run"), progress=False)
    last = result.run_dir / "checkpoints" / "last.ckpt"
    # weights_only=True refuses any pickled object other than tensors and primitives.
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert checkpoint["torchmusic"]["train_config"]["model"] == "shortchunk"
    assert checkpoint["global_step"] > 0
    data = (result.run_dir / "data.json").read_text()
    assert '"train": 4' in data and '"valid": 2' in data


@pytest.mark.filterwarnings("ignore:No positive samples found in target")
def test_multi_label_training_uses_map(tmp_path, make_config, demo_manifest):
    # Multi-label manifest: tune type plus instrument family as tags.
    rows = list(csv.DictReader(demo_manifest.open()))
    tagged = demo_manifest.parent / "tags.csv"
    with tagged.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "tags", "split"])
        writer.writeheader()
        for r in rows:
            tags = f"{r['tune_type']};{'melodic' if r['instrument_family'] != 'organ' else 'organ'}"
            writer.writerow({"path": r["path"], "tags": tags, "split": r["split"]})
    cfg = make_config(tagged, tmp_path / "run", label_column="tags", augment={"mixup": 0.3})
    result = train_classifier(cfg, progress=False)
    assert result.metrics["monitor"] == "val_map"
    assert 0.0 <= result.metrics["val_map"] <= 1.0
    _, spec = load_classifier(result.model_file)
    assert spec.multi_label is True
    assert "jig" in spec.labels and "reel" in spec.labels


def test_training_learns_an_easy_task(tmp_path, make_config):
    """Tones vs noise: a pipeline that mislabels or mis-slices clips cannot reach this."""
    rng = np.random.default_rng(0)
    sr = 8000
    t = np.arange(2 * sr) / sr
    for i in range(12):
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
        noise = 0.1 * rng.standard_normal(t.size)
        for label, y in (("tone", tone), ("noise", noise)):
            (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
            sf.write(tmp_path / "data" / label / f"{i}.wav", y.astype(np.float32), sr)
    cfg = make_config(
        tmp_path / "data",
        tmp_path / "run",
        model="shortchunk",
        model_config={"width": 8, "multipliers": [1, 2, 2]},
        feature={"kind": "logmel", "sr": sr, "n_fft": 256, "hop_length": 128, "n_mels": 32},
        split_fractions={"train": 0.6, "valid": 0.4},
        batch_size=8,
        lr=3e-3,
        max_epochs=30,
        patience=0,
    )
    result = train_classifier(cfg, progress=False)
    assert result.metrics["val_acc"] >= 0.9


def test_a_last_batch_of_one_clip_does_not_break_batchnorm(tmp_path, make_config, demo_manifest):
    # 4 training clips in batches of 3 would leave a batch of 1, which BatchNorm1d
    # (in ShortChunkResNet's head) refuses in training mode.
    cfg = make_config(demo_manifest, tmp_path / "run", model="shortchunk", batch_size=3)
    result = train_classifier(cfg, progress=False)
    assert result.metrics["global_step"] == 1
