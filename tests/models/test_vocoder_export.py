"""ONNX export of the vocoder generators (torchmusic.models.vocoder.export, `export onnx`).

The export-only inverse STFT equals ``torch.istft``; tiny random-weight Vocos, HiFi-GAN
and MelGAN model files (the plumbing is under test, not the sound) exported and run in
onnxruntime equal PyTorch on the log-mel of a real recording at three frame counts (the
dynamic axis: 44, 130 and 1) and two batch sizes; the shipped ``music-vocoder`` the same
(slow: its export took 18 s on 2 CPU cores, up to 100 s beside a training job). Wrong
input is refused with the project's errors.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig

#: onnxruntime vs PyTorch: max |difference| <= ATOL + RTOL * peak |PyTorch output|.
ATOL, RTOL = 1e-6, 1e-4


@pytest.fixture(scope="module")
def onnx_tools():
    try:
        import onnx  # noqa: F401
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"{exc.name} is not installed: pip install 'torchmusic[onnx]'")
    return onnxruntime


@pytest.fixture(scope="module")
def waltz_mels(shared_data):
    """The default log-mel of a real recording: 1 s (44 frames), 2 x 3 s (130 frames) and
    its first frame alone."""
    y, sr = sf.read(
        shared_data / "recordings" / "147793__setuniman__sweet-waltz-0i-22mi.ogg", dtype="float32"
    )
    y = torch.from_numpy(y if y.ndim == 1 else y.mean(1))
    feature = FeatureConfig()
    assert sr == feature.sr
    one = feature.compute(y[:sr])[None]
    two = feature.compute(torch.stack([y[sr : 4 * sr], y[4 * sr : 7 * sr]]))
    assert one.shape == (1, 128, 44) and two.shape == (2, 128, 130)
    return [one, two, one[..., :1]]  # and a single frame


def _save(tmp_path_factory, arch: str, **config) -> str:
    from torchmusic.models.vocoder import build_vocoder
    from torchmusic.models.vocoder.vocoderfile import VocoderSpec, save_vocoder

    torch.manual_seed(0)
    net = build_vocoder(arch, **config)
    path = tmp_path_factory.mktemp(arch) / f"{arch}.safetensors"
    save_vocoder(path, net.eval(), VocoderSpec(arch, {}, FeatureConfig().to_dict()))
    return str(path)


TINY = {
    "vocos": {"dim": 32, "intermediate_dim": 64, "num_layers": 2},
    "hifigan": {
        "upsample_rates": (16, 32),
        "upsample_kernel_sizes": (32, 64),
        "upsample_initial_channel": 16,
        "resblock_kernel_sizes": (3,),
        "resblock_dilations": ((1, 3),),
    },
    "melgan": {"channels": 16, "upsample_rates": (16, 32)},
}


@pytest.fixture(scope="module", params=sorted(TINY))
def exported(request, tmp_path_factory, onnx_tools):
    """(model file, its .onnx, what the command printed): Vocos exported by the command,
    HiFi-GAN and MelGAN by the Python function (an export takes ~7 CPU seconds)."""
    import contextlib
    import io

    from torchmusic.cli.main import main
    from torchmusic.models.vocoder.export import export_vocoder_onnx

    arch = request.param
    model = _save(tmp_path_factory, arch, **TINY[arch])
    out = tmp_path_factory.mktemp(f"{arch}-onnx") / f"{arch}.onnx"
    printed = io.StringIO()
    if arch == "vocos":
        with contextlib.redirect_stdout(printed):
            assert main(["export", "onnx", "-m", model, "-o", str(out)]) == 0
    else:
        assert export_vocoder_onnx(model, out) == out
    assert out.is_file() and not list(out.parent.glob("*.tmp"))
    return model, out, printed.getvalue()


def _assert_onnx_matches_torch(onnx_path, model, mels, ort) -> None:
    from torchmusic.models.vocoder.export import min_frames
    from torchmusic.models.vocoder.vocoderfile import load_vocoder_file

    net, _ = load_vocoder_file(model)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["mel"]
    assert [o.name for o in session.get_outputs()] == ["audio"]
    for mel in mels:
        if mel.shape[-1] < min_frames(net):  # MelGAN: 4 (its reflection padding)
            with pytest.raises(Exception, match=r"[Rr]eflect"):
                session.run(None, {"mel": mel.numpy()})
            continue
        (got,) = session.run(None, {"mel": mel.numpy()})
        with torch.no_grad():
            want = net.eval()(mel).numpy()
        assert got.shape == want.shape == (mel.shape[0], mel.shape[-1] * 512)
        peak = float(np.abs(want).max())
        assert peak > 0
        assert float(np.abs(got - want).max()) <= ATOL + RTOL * peak


# -- the export-only inverse STFT ---------------------------------------------------------


@pytest.mark.parametrize("n_fft,hop", [(2048, 512), (1024, 256), (64, 16), (63, 16), (16, 16)])
def test_overlap_add_istft_equals_torch_istft(n_fft, hop):
    from torchmusic.models.vocoder.export import OverlapAddISTFT

    torch.manual_seed(0)
    frames = 25
    # Scaled so the signal is of order 1: the tolerance is then an absolute one.
    spec = torch.randn(3, n_fft // 2 + 1, frames, dtype=torch.complex64) * (n_fft**0.5)
    length = (frames - 1) * hop
    window = torch.hann_window(n_fft)
    if hop == n_fft:  # a Hann window without overlap has zeros torch.istft refuses
        window = torch.ones(n_fft)
    want = torch.istft(spec, n_fft, hop, window=window, center=True, length=length)
    got = OverlapAddISTFT(n_fft, hop, window)(spec.real, spec.imag, length)
    assert got.shape == want.shape == (3, length)
    assert want.abs().max() > 0.5
    assert (got - want).abs().max() < 1e-4


def test_the_export_wrapper_of_vocos_equals_vocos():
    from torchmusic.models.vocoder import build_vocoder
    from torchmusic.models.vocoder.export import VocosForExport

    torch.manual_seed(0)
    net = build_vocoder("vocos", **TINY["vocos"]).eval()
    mel = torch.randn(2, 128, 37) * 20 - 40
    with torch.no_grad():
        assert (VocosForExport(net)(mel) - net(mel)).abs().max() < 1e-6


@pytest.mark.parametrize("arch", ["hifigan", "melgan", "vocos"])
def test_the_exported_copy_computes_the_same_and_leaves_the_model_alone(arch):
    from torchmusic.models.vocoder import build_vocoder
    from torchmusic.models.vocoder.export import plain_copy

    torch.manual_seed(0)
    net = build_vocoder(arch, **TINY[arch]).eval()
    mel = torch.randn(2, 128, 9) * 20 - 40
    with torch.no_grad():
        before = net(mel)
        copy = plain_copy(net)
        assert not any("parametrizations" in k for k in copy.state_dict())
        assert (copy(mel) - before).abs().max() < 1e-6
        assert torch.equal(net(mel), before)  # the original still runs, unchanged


# -- onnxruntime equals PyTorch -----------------------------------------------------------


def test_onnxruntime_equals_pytorch_on_a_real_mel(exported, waltz_mels, onnx_tools):
    from torchmusic.models.vocoder.export import METADATA_KEY

    model, out, _ = exported
    _assert_onnx_matches_torch(out, model, waltz_mels, onnx_tools)
    meta = json.loads(
        onnx_tools.InferenceSession(str(out)).get_modelmeta().custom_metadata_map[METADATA_KEY]
    )
    assert meta["sample_rate"] == 22050 and meta["hop_length"] == 512
    assert FeatureConfig.from_dict(meta["feature"]) == FeatureConfig()


@pytest.mark.slow
def test_the_shipped_music_vocoder_exports(waltz_mels, onnx_tools, tmp_path):
    from torchmusic.models.vocoder.export import export_vocoder_onnx

    out = export_vocoder_onnx("music-vocoder", tmp_path / "music-vocoder.onnx")
    _assert_onnx_matches_torch(out, "music-vocoder", waltz_mels, onnx_tools)


def test_the_command_says_what_it_wrote(exported):
    model, out, printed = exported
    if "vocos" not in model:
        assert printed == ""  # the Python function prints nothing; the command ran on Vocos
        return
    assert f"{model} (vocos) -> {out}" in printed
    assert "input 'mel' (batch, 128, frames)" in printed and "22050 Hz" in printed


# -- refused input ------------------------------------------------------------------------


def test_a_classifier_file_is_refused_by_what_it_is(tmp_path, capsys):
    from torchmusic.cli.main import main
    from torchmusic.models.vocoder.export import export_vocoder_onnx

    out = tmp_path / "x.onnx"
    with pytest.raises(DataError, match="classifier model file"):
        export_vocoder_onnx("drums", out)
    assert main(["export", "onnx", "-m", "drums", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "classifier model file" in err and "Traceback" not in err
    assert not out.exists()


def test_bad_outputs_and_non_vocoders_are_refused(tmp_path):
    from torch import nn

    from torchmusic.models.vocoder import build_vocoder
    from torchmusic.models.vocoder.export import export_onnx, export_vocoder_onnx

    net = build_vocoder("vocos", **TINY["vocos"])
    with pytest.raises(ParameterError, match="is a folder"):
        export_onnx(net, tmp_path)
    with pytest.raises(ParameterError, match="does not exist"):
        export_onnx(net, tmp_path / "missing" / "v.onnx")
    with pytest.raises(ParameterError, match=r"vocoder generator .* got Linear"):
        export_onnx(nn.Linear(2, 2), tmp_path / "v.onnx")
    model = _save_plain(tmp_path, net)
    with pytest.raises(ParameterError, match="the model file itself"):
        export_vocoder_onnx(model, model)
    assert not list(tmp_path.glob("*.onnx"))


def _save_plain(tmp_path, net) -> str:
    from torchmusic.models.vocoder.vocoderfile import VocoderSpec, save_vocoder

    path = tmp_path / "v.safetensors"
    save_vocoder(path, net.eval(), VocoderSpec("vocos", {}, FeatureConfig().to_dict()))
    return str(path)
