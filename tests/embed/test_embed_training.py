"""``train_embedder`` / ``torchmusic train embed``: run folder, model file, resume, settings."""

from __future__ import annotations

import json

import pytest
import torch
from embed_helpers import TINY_FEATURE, TINY_NETS

from torchmusic.cli.main import main
from torchmusic.embed import get_embedder
from torchmusic.errors import DataError, ParameterError
from torchmusic.models.embed import read_embedding_spec
from torchmusic.training.embed import EmbedTrainConfig, split_tracks, train_embedder


def _cfg(data, out, arch, **kw):
    return EmbedTrainConfig(
        data=str(data),
        model=arch,
        model_config=dict(TINY_NETS[arch]),
        feature=dict(TINY_FEATURE),
        clip_seconds=1.0,
        clips_per_track=2,
        batch_size=4,
        max_epochs=2,
        val_fraction=0.34,
        out_dir=str(out),
        cache_dir=str(out.parent / "cache"),
        extract_workers=1,
        accelerator="cpu",
        devices=1,
        **kw,
    )


@pytest.mark.parametrize("arch", ["autoencoder", "contrastive"])
def test_training_writes_a_usable_model_file(tmp_path, tone_dir, arch):
    result = train_embedder(_cfg(tone_dir, tmp_path / "run", arch), progress=False)
    assert result.model_file.is_file()
    spec = read_embedding_spec(result.model_file)
    assert spec.architecture == arch and spec.dim == 8 and spec.clip_seconds == 1.0
    assert result.metrics["tracks_train"] == 4 and result.metrics["tracks_valid"] == 2
    assert result.metrics["epochs_trained"] == 2
    assert torch.isfinite(torch.tensor(result.metrics["val_loss"]))
    data = json.loads((result.run_dir / "data.json").read_text())
    assert len(data["train"]) == 4 and not set(data["train"]) & set(data["valid"])
    vector = get_embedder(result.model_file).embed_file(next(tone_dir.glob("*.wav")))
    assert vector.shape == (8,)


def test_a_finished_run_is_not_overwritten_and_resume_checks_settings(tmp_path, tone_dir):
    cfg = _cfg(tone_dir, tmp_path / "run", "autoencoder")
    cfg.max_epochs = 1
    train_embedder(cfg, progress=False)
    with pytest.raises(DataError, match="--resume"):
        train_embedder(cfg, progress=False)
    cfg.resume, cfg.seed = True, 1
    with pytest.raises(ParameterError, match="seed"):
        train_embedder(cfg, progress=False)
    cfg.seed, cfg.max_epochs = 0, 2
    result = train_embedder(cfg, progress=False)
    assert result.metrics["epochs_trained"] == 2


def test_config_sources_and_validation(tmp_path):
    recipe = tmp_path / "embed.yaml"
    recipe.write_text("model: autoencoder\nlr: 0.01\nmodel_config: {dim: 16}\n")
    cfg = EmbedTrainConfig.from_sources(
        config=recipe, overrides=["--model_config.channels", "[4, 4]", "--max-epochs=3"], data="x"
    )
    assert cfg.model == "autoencoder" and cfg.lr == 0.01 and cfg.max_epochs == 3
    assert cfg.model_config == {"dim": 16, "channels": [4, 4]}
    with pytest.raises(ParameterError, match="did you mean 'batch_size'"):
        EmbedTrainConfig.from_sources(overrides=["--batch_sise", "3"])
    with pytest.raises(ParameterError, match="model="):
        EmbedTrainConfig(data="x", model="vae").validate()
    with pytest.raises(ParameterError, match="data is not set"):
        EmbedTrainConfig().validate()


def test_split_is_seeded_and_disjoint():
    a = split_tracks(20, val_fraction=0.25, seed=3)
    assert a == split_tracks(20, val_fraction=0.25, seed=3)
    assert len(a[1]) == 5 and not set(a[0]) & set(a[1])
    assert split_tracks(2, val_fraction=0.5, seed=0) == ([0, 1], [])


def test_cli_train_embed(tmp_path, tone_dir, capsys):
    rc = main(
        [
            "train", "embed", "--data", str(tone_dir), "--arch", "autoencoder",
            "--out", str(tmp_path / "run"), "--accelerator", "cpu", "--devices", "1",
            "--no-progress", "--max_epochs", "1", "--clip_seconds", "1.0",
            "--cache_dir", str(tmp_path / "cache"), "--feature.n_mels", "16",
            "--feature.n_fft", "512", "--model_config.channels", "[4]", "--batch_size", "4",
        ]
    )  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "model file:" in out
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_data_can_be_a_manifest(tmp_path, tone_dir):
    files = sorted(tone_dir.glob("*.wav"))[:2]
    manifest = tmp_path / "tracks.csv"
    manifest.write_text("path,label\n" + "".join(f"{f},x\n" for f in files))
    cfg = EmbedTrainConfig(data=str(manifest))
    assert cfg.data_paths() == [str(f.resolve()) for f in files]
    (tmp_path / "bad.csv").write_text("file\nx\n")
    with pytest.raises(DataError, match="no 'path' column"):
        EmbedTrainConfig(data=str(tmp_path / "bad.csv")).data_paths()
