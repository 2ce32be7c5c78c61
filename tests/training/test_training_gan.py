"""GAN training on the shared engine: tiny WaveGAN / SpecGAN on real drum hits, a few CPU steps.

The hits are Hydrogen's ElectricEmpireKit (Debian ``hydrogen-drumkits``): three kicks,
three snares and three hi-hats in a class-per-folder root, plus one corrupt file that
must be skipped and listed.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import sys
from pathlib import Path

import pytest
import torch
from run_helpers import kill_after_step_checkpoint, last_checkpoint

from torchmusic.errors import DataError, ParameterError

KIT = Path("/usr/share/hydrogen/data/drumkits/ElectricEmpireKit")
CLASSES = {
    "kick": ["EE_Kick_Low_1.flac", "EE_Kick_Hard_1.flac", "EE_Kick_Power.flac"],
    "snare": ["EE_Snare_1.flac", "EE_Snare_2.flac", "EE_Snare_Low.flac"],
    "hihat": ["EE_Hat_Cl_Dirty.flac", "EE_Hat_Op_Dirty.flac", "EE_Hat_Low.flac"],
}
TINY = {"dim": 4, "length": 4096, "n_layers": 3, "latent_dim": 16}


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    """``kick/ snare/ hihat/`` with three real hits each, and a corrupt ``snare/broken.wav``."""
    if not KIT.is_dir():
        pytest.skip(f"{KIT} not found (apt-get install hydrogen-drumkits)")
    root = tmp_path_factory.mktemp("kit")
    for label, names in CLASSES.items():
        (root / label).mkdir()
        for name in names:
            shutil.copy(KIT / name, root / label / name)
    (root / "snare" / "broken.wav").write_bytes(b"RIFF\x00\x01garbage" * 10)
    return root


def _cfg(data, out, **kw):
    from torchmusic.training.gan.settings import GanTrainConfig

    base = dict(
        data=str(data),
        out_dir=str(out),
        model="wavegan",
        model_config=dict(TINY),
        conditional=True,
        batch_size=4,
        max_steps=4,
        n_critic=2,
        examples_every_n_steps=2,
        examples_per_class=1,
        log_every_n_steps=1,
    )
    base.update(kw)
    return GanTrainConfig(**base)


def _adam_steps(ckpt: dict, index: int) -> int:
    return max(int(s["step"]) for s in ckpt["optimizer_states"][index]["state"].values())


def test_a_tiny_conditional_wavegan_trains_with_both_optimisers(kit, tmp_path):
    from torchmusic.models.gan import load_gan_file
    from torchmusic.training.gan.job import train_gan

    result = train_gan(_cfg(kit, tmp_path / "run"), progress=False)
    m = result.metrics
    assert m["global_step"] == 4 and m["generator_steps"] == 2 and m["clips"] == 9
    # The corrupt file was skipped and listed, the rest trained on.
    assert [Path(p).name for p, _ in result.skipped] == ["broken.wav"]
    data = json.loads((result.run_dir / "data.json").read_text())
    assert data["classes"] == ["hihat", "kick", "snare"]
    assert data["clips_per_class"] == {"hihat": 3, "kick": 3, "snare": 3}
    assert [Path(s["path"]).name for s in data["skipped"]] == ["broken.wav"]
    # Both optimisers stepped: the critic every batch, the generator every n_critic-th.
    ckpt = last_checkpoint(result.run_dir)
    assert len(ckpt["optimizer_states"]) == 2
    assert _adam_steps(ckpt, 0) == 4 and _adam_steps(ckpt, 1) == 2
    assert any(k.startswith("ema.module.") for k in ckpt["state_dict"])
    # Every logged loss is finite; the gradient penalty was part of the critic's loss.
    rows = list(csv.DictReader(next((result.run_dir / "csv").glob("*/metrics.csv")).open()))
    logged = {k: [float(r[k]) for r in rows if r.get(k)] for k in rows[0]}
    for key in ("discriminator_loss", "generator_loss", "train_gp", "train_wasserstein"):
        assert logged[key] and all(math.isfinite(v) for v in logged[key]), key
    # Fixed-latent sample grids: a WAV per class and a PNG, every 2 steps.
    for step in ("step-000002", "step-000004"):
        folder = result.run_dir / "samples" / step
        assert {p.name for p in folder.iterdir()} == {
            "hihat-0.wav", "kick-0.wav", "snare-0.wav", "grid.png",
        }  # fmt: skip
    # The model file holds the EMA generator, the labels and the rate.
    net, spec = load_gan_file(result.model_file)
    assert spec.labels == ["hihat", "kick", "snare"] and spec.sample_rate == 22050
    assert spec.extra["ema"] and net.config.n_classes == 3 and net.config.length == 4096
    ema = {k[len("ema.module.") :]: v for k, v in ckpt["state_dict"].items() if "ema.module." in k}
    for name, value in net.state_dict().items():
        assert torch.equal(value, ema[name]), name


@pytest.mark.parametrize(
    "arch,loss,conditional",
    [("wavegan", "lsgan", False), ("specgan", "hinge", True)],
)
def test_other_losses_and_specgan_train(kit, tmp_path, arch, loss, conditional):
    from torchmusic.serve.synthesize import load_gan, synthesize
    from torchmusic.training.gan.job import train_gan

    model_config = (
        dict(TINY)
        if arch == "wavegan"
        else {"dim": 4, "n_mels": 32, "n_frames": 8, "n_layers": 3, "latent_dim": 16,
              "generator_norm": "batch", "discriminator_norm": "spectral"}
    )  # fmt: skip
    cfg = _cfg(
        kit,
        tmp_path / "run",
        model=arch,
        model_config=model_config,
        loss=loss,
        conditional=conditional,
        max_steps=2,
        n_critic=1,
        examples_every_n_steps=0,
        ema_decay=0.0,
        mode_seeking=1.0 if conditional else 0.0,
    )
    result = train_gan(cfg, progress=False)
    assert result.metrics["global_step"] == 2 and result.metrics["generator_steps"] == 2
    logged = (result.run_dir / "csv").rglob("metrics.csv")
    header = next(logged).read_text().splitlines()[0].split(",")
    assert ("train_mode_seeking" in header) == conditional
    assert not (result.run_dir / "samples").exists()
    gan = load_gan(result.model_file)
    assert gan.conditional == conditional and not gan.spec.extra["ema"]
    audio = synthesize(gan, n=2, seed=0)
    length = 4096 if arch == "wavegan" else 8 * 512
    assert audio.shape == (2, length) and torch.isfinite(audio).all()


def test_bad_data_and_settings_are_refused_before_a_run_folder_exists(kit, tmp_path):
    from torchmusic.training.gan.job import train_gan

    one = tmp_path / "one"
    shutil.copytree(kit / "kick", one / "kick")
    with pytest.raises(DataError, match=r"1 class\(es\) \['kick'\]; a conditional GAN needs"):
        train_gan(_cfg(one, tmp_path / "a"), progress=False)
    assert not (tmp_path / "a").exists()
    flat = tmp_path / "flat"
    shutil.copytree(kit / "kick", flat)
    with pytest.raises(DataError, match="no class sub-folders"):
        train_gan(_cfg(flat, tmp_path / "b"), progress=False)
    bad = tmp_path / "bad"
    for label in ("x", "y"):
        (bad / label).mkdir(parents=True)
        (bad / label / "z.wav").write_bytes(b"not audio")
    with pytest.raises(DataError, match="no decodable audio"):
        train_gan(_cfg(bad, tmp_path / "c"), progress=False)
    with pytest.raises(ParameterError, match="loss='wgan'"):
        _cfg(kit, tmp_path / "d", loss="wgan").validate()
    with pytest.raises(ParameterError, match="mode_seeking=-1"):
        _cfg(kit, tmp_path / "d", mode_seeking=-1.0).validate()
    with pytest.raises(ParameterError, match="vocoder='music-vocoder': only a specgan"):
        _cfg(kit, tmp_path / "d", vocoder="music-vocoder").validate()
    with pytest.raises(ParameterError, match=r"model_config\.n_classes is set by the run"):
        _cfg(kit, tmp_path / "d", model_config={"n_classes": 3}).validate()
    with pytest.raises(ParameterError, match="length=4000 is not a multiple"):
        train_gan(_cfg(kit, tmp_path / "e", model_config={**TINY, "length": 4000}))
    assert not any((tmp_path / n).exists() for n in "abcde")


def test_a_manifest_trains_on_its_train_rows_and_an_unconditional_run_on_a_flat_folder(
    kit, tmp_path
):
    from torchmusic.training.gan.data import list_sources
    from torchmusic.training.gan.settings import GanTrainConfig

    rows = ["path,label,split"]
    for label, names in CLASSES.items():
        rows += [f"{kit}/{label}/{n},{label},{'test' if i == 2 else 'train'}" for i, n in
                 enumerate(names)]  # fmt: skip
    manifest = tmp_path / "hits.csv"
    manifest.write_text("\n".join(rows) + "\n")
    sources, classes, held_out = list_sources(GanTrainConfig(data=str(manifest), conditional=True))
    assert classes == ["hihat", "kick", "snare"] and held_out == 3 and len(sources) == 6
    flat = tmp_path / "flat"
    shutil.copytree(kit / "kick", flat)
    sources, classes, _ = list_sources(GanTrainConfig(data=str(flat)))
    assert classes == [] and len(sources) == 3 and {label for _, label in sources} == {None}


def test_clips_start_at_their_onset_and_are_padded_or_cropped():
    from torchmusic.training.gan.data import fit_clip

    hit = torch.cat([torch.zeros(500), torch.linspace(0.5, 0.0, 300)])
    clip, padded = fit_clip(hit, 1000, sr=1000, pre_onset_ms=0)
    assert padded and clip.shape == (1000,) and clip[0] == pytest.approx(0.95)
    assert torch.all(clip[300:] == 0)
    clip, padded = fit_clip(hit, 100, sr=1000, pre_onset_ms=10, normalize=False)
    assert not padded and clip.shape == (100,) and torch.all(clip[:10] == 0) and clip[10] == 0.5
    with pytest.raises(DataError, match="silent"):
        fit_clip(torch.zeros(50), 10, sr=1000)


def test_a_killed_run_resumes_from_its_saved_step(kit, tmp_path):
    """SIGKILL after a step checkpoint; --resume continues from that step with both
    optimisers' states and the EMA."""
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torchmusic", "train", "gan", "--data", str(kit), "--out", str(run),
        "--no-progress", "--arch", "wavegan", "--conditional", "--model_config.dim", "4",
        "--model_config.length", "4096", "--model_config.n_layers", "3",
        "--model_config.latent_dim", "16", "--batch_size", "2", "--n_critic", "2",
        "--max_steps", "100000", "--checkpoint_every_n_steps", "3",
        "--examples_every_n_steps", "0", "--threads", "1",
    ]  # fmt: skip
    saved = kill_after_step_checkpoint(cmd, run, step=3)
    saved_step = saved["global_step"]
    assert saved_step >= 3 and len(saved["optimizer_states"]) == 2
    assert not (run / "model.safetensors").exists()

    from torchmusic.cli.main import main

    code = main([*cmd[3:], "--resume", "--max_steps", str(saved_step + 2)])
    assert code == 0
    final = last_checkpoint(run)
    assert final["global_step"] == saved_step + 2
    # The critic's optimiser went on from its saved step count.
    assert _adam_steps(final, 0) == _adam_steps(saved, 0) + 2
    assert (run / "model.safetensors").is_file()
    # Resuming with other settings is refused, naming them.
    code = main([*cmd[3:], "--resume", "--loss", "hinge"])
    assert code == 1
