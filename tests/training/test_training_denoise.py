"""Denoiser training on the shared engine: a real run folder, resume, refusals, and an
overfit on one real noisy / clean pair.

Tiny networks; the run tests use the generated ``tiny_fixture`` music and noise, the
overfit test a real recording and a real noise from ``../shared/data``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from torchmusic.errors import DataError, ParameterError

TINY = {"preset": "cpu", "channels": [8, 16], "bottleneck_blocks": 1, "df_bins": 16}


@pytest.fixture(scope="module")
def fixture(tmp_path_factory) -> dict[str, Path]:
    from torchmusic.data.mixtures import tiny_fixture

    root = tmp_path_factory.mktemp("fixture")
    tiny_fixture(root, sr=16000, seconds=1.0)
    return {"clean": root / "clean", "noise": root / "noise", "root": root}


def _cfg(fixture, out, **kw):
    from torchmusic.training.denoise.settings import DenoiseTrainConfig

    base = dict(
        clean=str(fixture["clean"]),
        noise=str(fixture["noise"]),
        out_dir=str(out),
        model_config=dict(TINY),
        segment_seconds=0.5,
        items_per_track=2,
        val_fraction=0.34,
        val_items_per_track=2,
        batch_size=2,
        max_steps=4,
        max_epochs=100,
        audio_every_n_epochs=1,
        audio_examples=1,
        log_every_n_steps=1,
        cache_dir=str(Path(out).parent / "audio-cache"),
    )
    base.update(kw)
    return DenoiseTrainConfig(**base)


def test_a_tiny_run_writes_a_usable_model_file(fixture, tmp_path):
    from torchmusic.serve.denoise import Denoiser
    from torchmusic.training.denoise.job import train_denoiser

    result = train_denoiser(_cfg(fixture, tmp_path / "run"), progress=False)
    m = result.metrics
    assert m["global_step"] == 4
    assert m["tracks"] == {"train": 2, "valid": 1, "test": 0}
    assert all(k in m for k in ("val_si_sdr", "val_si_sdri", "val_loss"))
    data = json.loads((result.run_dir / "data.json").read_text())
    # Split by track and by noise file: nothing on both sides.
    assert not set(data["train"]) & set(data["valid"])
    noise_train = {f["path"] for f in data["noise"]["train"]}
    noise_valid = {f["path"] for f in data["noise"]["valid"]}
    assert noise_train and noise_valid and not noise_train & noise_valid
    assert data["synthetic_noise"] == ["hum", "hiss", "clicks", "crackle"]
    examples = {p.name for p in (result.run_dir / "validation").rglob("*.wav")}
    assert {"00-noisy.wav", "00-clean.wav", "00-denoised.wav"} <= examples
    den = Denoiser(result.model_file)
    assert den.sample_rate == 22050 and den.spec.architecture == "unet"
    assert den.spec.model_config["channels"] == [8, 16]
    assert den.spec.metrics["val_si_sdr"] == pytest.approx(m["val_si_sdr"])
    assert "training_data_licences" in den.spec.extra
    out = den(torch.randn(2, 8000) * 0.1, 16000)
    assert out.shape == (2, 8000) and torch.isfinite(out).all()


def test_a_stopped_run_resumes_through_the_command(fixture, tmp_path, capsys):
    from torchmusic.cli.main import main
    from torchmusic.training.denoise.job import train_denoiser

    run = tmp_path / "run"
    train_denoiser(_cfg(fixture, run, max_steps=2, audio_every_n_epochs=0), progress=False)
    step = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert step["global_step"] == 2
    code = main([
        "train", "denoise", "--clean", str(fixture["clean"]), "--noise", str(fixture["noise"]),
        "--out", str(run), "--resume", "--no-progress", "--max_steps", "4",
        "--model_config.channels", "[8, 16]", "--model_config.bottleneck_blocks", "1",
        "--model_config.df_bins", "16", "--segment_seconds", "0.5", "--items_per_track", "2",
        "--val_fraction", "0.34", "--val_items_per_track", "2", "--batch_size", "2",
        "--audio_every_n_epochs", "0", "--cache_dir", str(tmp_path / "audio-cache"),
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "global_step  4" in out and "model file:" in out
    assert json.loads((run / "metrics.json").read_text())["global_step"] == 4


def test_bad_settings_and_data_are_refused_before_a_run_folder_exists(fixture, tmp_path):
    from torchmusic.training.denoise.job import train_denoiser
    from torchmusic.training.denoise.settings import DenoiseTrainConfig

    with pytest.raises(ParameterError, match="clean is not set"):
        DenoiseTrainConfig().validate()
    with pytest.raises(ParameterError, match=r"unknown kind\(s\) \['rain'\]"):
        _cfg(fixture, tmp_path / "a", synthetic_noise=["hum", "rain"]).validate()
    with pytest.raises(ParameterError, match="no noise"):
        _cfg(fixture, tmp_path / "a", noise=None, synthetic_noise=[]).validate()
    with pytest.raises(ParameterError, match=r"snr_range=\[10, 0\]"):
        _cfg(fixture, tmp_path / "a", snr_range=[10, 0]).validate()
    with pytest.raises(ParameterError, match="width"):
        _cfg(fixture, tmp_path / "a", model_config={"preset": "cpu", "width": 3}).validate()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no clean training music"):
        train_denoiser(_cfg(fixture, tmp_path / "b", clean=str(empty)), progress=False)
    with pytest.raises(DataError, match="is not a folder"):
        train_denoiser(
            _cfg(fixture, tmp_path / "c", noise=str(tmp_path / "nowhere")), progress=False
        )
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_a_tiny_network_overfits_one_real_noisy_clean_pair(shared_data):
    """Music with a real running tap at 0 dB: 100 Adam steps on the training loss raise
    SI-SDR by at least 6 dB (14.1 dB when measured, 25-35 s on 2 busy cores)."""
    from torchmusic import audio
    from torchmusic.data.mixtures import mix_at_snr
    from torchmusic.metrics.audio import si_sdr
    from torchmusic.models.denoise import DenoiseLoss, build_denoiser

    music = shared_data / "recordings" / "147793__setuniman__sweet-waltz-0i-22mi.ogg"
    tap = shared_data / "noise" / "speech_commands_background" / "running_tap.wav"
    clean, _ = audio.load(music, sr=22050, offset=5.0, duration=1.5)
    noise, _ = audio.load(tap, sr=22050, duration=1.5)
    clean = 0.5 * clean
    noisy = mix_at_snr(clean, noise, 0.0)
    torch.manual_seed(0)
    net = build_denoiser(preset="cpu", channels=[8, 16, 24], bottleneck_blocks=2)
    loss_fn = DenoiseLoss()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(100):
        loss = loss_fn(clean[None], net(noisy[None]))["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        est = net.eval()(noisy[None])[0]
    before, after = si_sdr(clean, noisy), si_sdr(clean, est)
    assert abs(before) < 0.2  # 0 dB in
    assert after - before >= 6.0, (before, after)


def test_init_from_starts_a_run_from_a_model_file_of_the_same_settings(fixture, tmp_path):
    from torchmusic.models.denoise.denoiserfile import load_denoiser_file
    from torchmusic.training.denoise.job import train_denoiser

    first = train_denoiser(_cfg(fixture, tmp_path / "a", max_steps=2), progress=False)
    # A near-zero learning rate: the second run's weights stay the first run's.
    second = train_denoiser(
        _cfg(fixture, tmp_path / "b", max_steps=1, lr=1e-12, init_from=str(first.model_file)),
        progress=False,
    )
    a, _ = load_denoiser_file(first.model_file)
    b, _ = load_denoiser_file(second.model_file)
    fresh = train_denoiser(_cfg(fixture, tmp_path / "c", max_steps=1, lr=1e-12), progress=False)
    c, _ = load_denoiser_file(fresh.model_file)
    key = "mask_head.weight"
    assert torch.allclose(a.state_dict()[key], b.state_dict()[key], atol=1e-8)
    assert not torch.allclose(a.state_dict()[key], c.state_dict()[key], atol=1e-4)
    other = dict(TINY, channels=[8, 24])
    with pytest.raises(ParameterError, match=r"init_from=.*has network settings"):
        train_denoiser(
            _cfg(fixture, tmp_path / "d", model_config=other, init_from=str(first.model_file)),
            progress=False,
        )
    assert not (tmp_path / "d").exists()  # refused before a run folder was made


def test_init_from_may_add_the_noise_floor_input_and_starts_equal(fixture, tmp_path):
    from torchmusic.models.denoise import DenoiserSpec, build_denoiser, save_denoiser
    from torchmusic.training.denoise.job import _initialise

    torch.manual_seed(0)
    plain = build_denoiser(**TINY).eval()
    with torch.no_grad():  # away from the identity, so equality below says something
        for head in (plain.mask_head, plain.df_head):
            head.weight.normal_(0, 0.3)
    path = save_denoiser(
        tmp_path / "plain.safetensors", plain, DenoiserSpec("unet", {}, plain.config.sr)
    )
    widened = build_denoiser(**TINY, noise_floor_frames=6).eval()
    _initialise(widened, str(path))
    x = torch.randn(1, 3 * plain.config.sr) * 0.1
    with torch.no_grad():
        assert torch.equal(widened(x), plain(x))
        assert float((widened(x) - x).abs().max()) > 1e-3
    assert widened.stem[0].weight.shape[1] == 4
    assert torch.all(widened.stem[0].weight[:, 3] == 0)
    # Only adding the floor is allowed: removing it, or any other change, is refused.
    floor_file = save_denoiser(
        tmp_path / "floor.safetensors", widened, DenoiserSpec("unet", {}, plain.config.sr)
    )
    for target, source in (
        (build_denoiser(**TINY), floor_file),
        (build_denoiser(**TINY, noise_floor_frames=9), floor_file),
        (build_denoiser(**dict(TINY, channels=[8, 24]), noise_floor_frames=6), path),
    ):
        with pytest.raises(ParameterError, match="noise-floor input may only add one"):
            _initialise(target, str(source))
