"""Vocoder training on the shared engine: a real run folder, two optimisers, resume after a kill.

Tiny Vocos-style generators on two real recordings from ``../shared/data/recordings``
(one for training, one for validation), a few steps on the CPU.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from run_helpers import kill_after_step_checkpoint, last_checkpoint

from torchmusic.errors import DataError, ParameterError

TINY = {"dim": 16, "intermediate_dim": 32, "num_layers": 1}
FILES = ("Kevin_MacLeod_-_Vibe_Ace.ogg", "147793__setuniman__sweet-waltz-0i-22mi.ogg")


@pytest.fixture(scope="module")
def music(shared_data, tmp_path_factory) -> Path:
    """A manifest: one training track and one validation track (real music)."""
    root = tmp_path_factory.mktemp("music")
    rows = ["path,split"]
    for name, split in zip(FILES, ("train", "valid"), strict=True):
        shutil.copy(shared_data / "recordings" / name, root / name)
        rows.append(f"{name},{split}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def _cfg(data, out, **kw):
    from torchmusic.training.vocoder.settings import VocoderTrainConfig

    base = dict(
        data=str(data),
        out_dir=str(out),
        model="vocos",
        model_config=dict(TINY),
        segment_frames=8,
        segments_per_track=4,
        batch_size=2,
        max_steps=4,
        max_epochs=100,
        val_segment_seconds=0.5,
        val_segments_per_track=2,
        audio_every_n_epochs=1,
        audio_examples=1,
        discriminators=["mpd", "mrd"],
        adversarial_after=2,
        log_every_n_steps=1,
        cache_dir=str(Path(out).parent / "audio-cache"),
    )
    base.update(kw)
    return VocoderTrainConfig(**base)


def test_a_two_phase_run_writes_a_usable_model_file(music, tmp_path):
    from torchmusic.serve.vocode import Vocoder
    from torchmusic.training.vocoder.job import train_vocoder

    result = train_vocoder(_cfg(music, tmp_path / "run"), progress=False)
    m = result.metrics
    assert m["global_step"] == 4 and m["adversarial_steps"] == 2
    assert m["tracks"] == {"train": 1, "valid": 1, "test": 0}
    assert m["val_mel_l1"] > 0 and m["val_mrstft"] > 0
    rows = list(csv.DictReader(next((result.run_dir / "csv").glob("*/metrics.csv")).open()))
    # The discriminators stepped only in the adversarial phase (steps 2 and 3).
    d_steps = sorted({int(r["step"]) for r in rows if r.get("discriminator_loss")})
    g_steps = sorted({int(r["step"]) for r in rows if r.get("generator_loss")})
    assert d_steps and min(d_steps) >= 2 and min(g_steps) < 2
    # Validation audio and spectrograms of held-out music were written.
    examples = sorted(p.name for p in (result.run_dir / "validation").rglob("*") if p.is_file())
    assert {"00-real.wav", "00-vocoded.wav", "00.png"} <= set(examples)
    data = json.loads((result.run_dir / "data.json").read_text())
    assert [Path(p).name for p in data["train"]] == [FILES[0]]
    assert [Path(p).name for p in data["valid"]] == [FILES[1]]
    voc = Vocoder(result.model_file)
    assert voc.spec.architecture == "vocos" and voc.sample_rate == 22050
    mel = voc.feature.compute(torch.randn(22050) * 0.1)
    out = voc(mel)
    assert out.shape == (mel.shape[-1] * 512,) and torch.isfinite(out).all()


def test_bad_settings_and_data_are_refused_before_a_run_folder_exists(music, tmp_path):
    from torchmusic.training.vocoder.job import train_vocoder
    from torchmusic.training.vocoder.settings import VocoderTrainConfig

    with pytest.raises(ParameterError, match="discriminators=\\['mpd', 'xyz'\\]"):
        _cfg(music, tmp_path / "a", discriminators=["mpd", "xyz"]).validate()
    with pytest.raises(ParameterError, match="kind='mfcc'"):
        _cfg(music, tmp_path / "a", feature={"kind": "mfcc"}).validate()
    with pytest.raises(ParameterError, match="upsample_rates"):
        train_vocoder(
            _cfg(
                music,
                tmp_path / "b",
                model="hifigan",
                model_config={"upsample_rates": [8, 8, 2, 2]},
            ),
            progress=False,
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no training audio"):
        train_vocoder(
            VocoderTrainConfig(data=str(empty), out_dir=str(tmp_path / "c")), progress=False
        )
    assert not (tmp_path / "c").exists()


def test_a_killed_two_optimiser_run_resumes_from_its_saved_step(music, tmp_path):
    """SIGKILL mid-run after a step checkpoint; --resume continues from that step with
    both optimisers' states (generator and discriminators)."""
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torchmusic", "train", "vocoder", "--data", str(music),
        "--out", str(run), "--no-progress", "--arch", "vocos",
        "--model_config.dim", "16", "--model_config.intermediate_dim", "32",
        "--model_config.num_layers", "1", "--segment_frames", "8", "--batch_size", "2",
        "--segments_per_track", "200", "--max_steps", "100000", "--adversarial_after", "1",
        "--checkpoint_every_n_steps", "3", "--val_segment_seconds", "0.5",
        "--audio_every_n_epochs", "0", "--cache_dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    saved = kill_after_step_checkpoint(cmd, run, step=3)
    saved_step = saved["global_step"]
    assert saved_step >= 3 and len(saved["optimizer_states"]) == 2
    assert any(k.startswith("nets.mpd.") for k in saved["state_dict"])
    assert not (run / "model.safetensors").exists()

    from torchmusic.cli.main import main

    code = main([*cmd[3:], "--resume", "--max_steps", str(saved_step + 2)])
    assert code == 0
    final = last_checkpoint(run)
    assert final["global_step"] == saved_step + 2

    # The discriminators' optimiser continued: its step counter went on from the saved one.
    def adam_steps(ck, i):
        return max(int(s["step"]) for s in ck["optimizer_states"][i]["state"].values())

    assert adam_steps(final, 1) == adam_steps(saved, 1) + 2
    assert (run / "model.safetensors").is_file()


def test_init_from_starts_from_a_model_file_and_refuses_other_settings(music, tmp_path):
    from torchmusic.serve.vocode import Vocoder
    from torchmusic.training.vocoder.job import _initialise, build_generator, train_vocoder

    first = train_vocoder(_cfg(music, tmp_path / "a", adversarial_after=None), progress=False)
    cfg = _cfg(music, tmp_path / "b", adversarial_after=None, init_from=str(first.model_file))
    net = build_generator(cfg)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    _initialise(net, cfg)
    want = Vocoder(first.model_file).net.state_dict()
    assert all(torch.equal(net.state_dict()[k], want[k]) for k in want)
    assert any(not torch.equal(before[k], want[k]) for k in want)  # it did change them
    second = train_vocoder(cfg, progress=False)
    assert second.metrics["global_step"] == 4
    bigger = _cfg(
        music, tmp_path / "c", init_from=str(first.model_file), model_config={**TINY, "dim": 24}
    )
    with pytest.raises(ParameterError, match="set model and model_config to the file's"):
        train_vocoder(bigger, progress=False)
    assert not (tmp_path / "c").exists()  # refused before a run folder was made
    other_mel = _cfg(
        music,
        tmp_path / "d",
        init_from=str(first.model_file),
        feature={"kind": "logmel", "n_mels": 80},
    )
    with pytest.raises(ParameterError, match="n_mels"):
        train_vocoder(other_mel, progress=False)
