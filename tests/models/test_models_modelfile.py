"""Model files: exact round trips, and every kind of bad file refused without unpickling."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch

import torchmusic.pretrained as pretrained
from torchmusic.errors import DataError, ParameterError
from torchmusic.features import FeatureConfig
from torchmusic.models import (
    ClassifierSpec,
    build_classifier,
    check_feature_match,
    clip_frames,
    load_classifier,
    read_spec,
    resolve_model,
    save_classifier,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The models here are tiny: extra intra-op threads only add synchronisation,
    # which costs seconds per call when the test machine's cores are busy.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


FEATURE = FeatureConfig(n_mels=16, n_fft=512)
CLIP = 1.0
TINY = {
    "simple_cnn": {"channels": (2, 4), "dense_units": 8},
    "crnn": {"channels": (4, 4), "rnn_hidden": 4, "rnn": "gru"},
    "shortchunk": {"width": 2},
}


def _model_and_spec(arch="shortchunk", labels=("kick", "snare", "hihat"), multi_label=False):
    torch.manual_seed(0)
    n_frames = clip_frames(CLIP, FEATURE)
    model = build_classifier(
        arch, n_mels=16, n_frames=n_frames, n_classes=len(labels), **TINY[arch]
    )
    # Non-trivial batch-norm statistics, so buffers are checked by the round trip too.
    model.train()
    model(torch.randn(4, 16, n_frames) * 10 + 3)
    model.eval()
    spec = ClassifierSpec(
        architecture=arch,
        model_config={},
        labels=list(labels),
        multi_label=multi_label,
        feature=FEATURE.to_dict(),
        clip_seconds=CLIP,
        metrics={"val_macro_f1": np.float32(0.5)},  # numpy scalars are stored as numbers
        extra={"kits": ["GMkit"]},
    )
    return model, spec


@pytest.fixture
def saved(tmp_path):
    model, spec = _model_and_spec()
    return save_classifier(tmp_path / "m.safetensors", model, spec), model


def _rewrite_spec(path: Path, mutate) -> None:
    """Edit the stored spec and keep both checksums valid (a well-formed but bad file)."""
    raw = path.read_bytes()
    tensors = safetensors.torch.load(raw)
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    spec = json.loads(meta["spec"])
    mutate(spec)
    meta["spec"] = json.dumps(spec)
    meta["spec_sha256"] = hashlib.sha256(meta["spec"].encode()).hexdigest()
    path.write_bytes(safetensors.torch.save(tensors, metadata=meta))


@pytest.mark.parametrize("arch", sorted(TINY))
def test_round_trip_gives_identical_outputs(tmp_path, arch):
    model, spec = _model_and_spec(arch, multi_label=arch == "crnn")
    path = save_classifier(tmp_path / "sub" / f"{arch}.safetensors", model, spec)
    loaded, spec2 = load_classifier(path)
    assert not loaded.training
    x = torch.randn(5, 16, clip_frames(CLIP, FEATURE))
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    assert spec2.labels == spec.labels and spec2.multi_label == spec.multi_label
    assert spec2.feature_config() == FEATURE
    assert spec2.metrics == {"val_macro_f1": 0.5}
    assert spec2.model_config["n_frames"] == clip_frames(CLIP, FEATURE)
    assert read_spec(path) == spec2
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left over


def test_file_is_plain_safetensors_with_versions(saved):
    path, _ = saved
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "torchmusic.classifier" and meta["format_version"] == "1"
    assert meta["torchmusic_version"] == __import__("torchmusic").__version__
    assert json.loads(meta["spec"])["architecture"] == "shortchunk"
    assert len(meta["payload_sha256"]) == 64


def test_overwriting_replaces_the_file(tmp_path):
    model, spec = _model_and_spec()
    path = save_classifier(tmp_path / "m.safetensors", model, spec)
    spec.labels = ["a", "b", "c"]
    save_classifier(path, model, spec)
    assert load_classifier(path)[1].labels == ["a", "b", "c"]


def test_loading_never_unpickles(saved, monkeypatch):
    path, model = saved

    def boom(*args, **kwargs):
        raise AssertionError("pickle or torch.load was called")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    monkeypatch.setattr(torch, "load", boom)
    loaded, _ = load_classifier(path)
    x = torch.randn(2, 16, clip_frames(CLIP, FEATURE))
    assert torch.equal(loaded(x), model(x))


class _Exploit:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("zipfile", [True, False])
def test_pickled_torch_files_are_refused_unopened(tmp_path, zipfile):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    torch.save({"state": _Exploit(marker)}, path, _use_new_zipfile_serialization=zipfile)
    with pytest.raises(DataError, match="pickled PyTorch file") as info:
        load_classifier(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_flipped_payload_byte_is_refused(saved):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0x40  # inside the last tensor's bytes
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt or truncated") as info:
        load_classifier(path)
    assert str(path) in str(info.value)


def test_flipped_spec_byte_is_refused(saved):
    path, _ = saved
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"kick", b"kicK", 1))
    with pytest.raises(DataError, match="checksum of its spec"):
        load_classifier(path)


@pytest.mark.parametrize("keep", [0, 5, 40, -100, -1])
def test_truncated_file_is_refused(saved, keep):
    path, _ = saved
    raw = path.read_bytes()
    path.write_bytes(raw[:keep])
    with pytest.raises(DataError) as info:
        load_classifier(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda s: s.update(architecture="transformer9"), "unknown architecture 'transformer9'"),
        (lambda s: s["feature"].update(kind="bogus"), "invalid feature settings"),
        (lambda s: s["feature"].update(n_mels=4096), "invalid feature settings"),
        (lambda s: s["feature"].update(colour=1), "invalid feature settings"),
        (lambda s: s["feature"].update(n_mels=32), "n_mels=16 does not match"),
        (lambda s: s.update(clip_seconds=2.0), "n_frames=44 does not match"),
        (lambda s: s.update(labels=["a", "b"]), "n_classes=3 does not match"),
        (lambda s: s.update(labels=["a", "a", "b"]), "duplicates"),
        (lambda s: s.update(clip_seconds=-1), "clip_seconds"),
        (lambda s: s["model_config"].update(depth=3), "unknown setting"),
        (lambda s: s.pop("labels"), "lacks keys"),
    ],
)
def test_bad_spec_is_refused_naming_the_file(saved, mutate, match):
    path, _ = saved
    _rewrite_spec(path, mutate)
    with pytest.raises(DataError, match=match) as info:
        load_classifier(path)
    assert str(path) in str(info.value)


def test_other_files_are_refused(tmp_path):
    plain = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2)}, plain)
    with pytest.raises(DataError, match="not a torchmusic classifier"):
        load_classifier(plain)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(DataError, match="corrupt safetensors header"):
        load_classifier(junk)
    audio = tmp_path / "song.wav"
    audio.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(DataError, match="not a safetensors file"):
        load_classifier(audio)


def test_newer_format_is_refused(saved):
    path, _ = saved
    raw = path.read_bytes()
    tensors = safetensors.torch.load(raw)
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata(), format_version="99")
    path.write_bytes(safetensors.torch.save(tensors, metadata=meta))
    with pytest.raises(DataError, match=r"format version '99'.*upgrade"):
        load_classifier(path)


def test_save_checks_the_spec_against_the_model(tmp_path):
    model, spec = _model_and_spec()
    spec.architecture = "crnn"
    with pytest.raises(ParameterError, match="'shortchunk' classifier"):
        save_classifier(tmp_path / "m.safetensors", model, spec)
    model, spec = _model_and_spec()
    spec.model_config = {"width": 64}
    with pytest.raises(ParameterError, match="differs from the model's config"):
        save_classifier(tmp_path / "m.safetensors", model, spec)
    model, spec = _model_and_spec()
    spec.feature = FeatureConfig(n_mels=32, n_fft=512).to_dict()
    with pytest.raises(ParameterError, match="n_mels=16 does not match"):
        save_classifier(tmp_path / "m.safetensors", model, spec)
    model, spec = _model_and_spec()
    spec.extra = {"x": object()}
    with pytest.raises(ParameterError, match="JSON"):
        save_classifier(tmp_path / "m.safetensors", model, spec)
    assert not any(tmp_path.iterdir())


def test_check_feature_match_lists_differences(saved):
    spec = read_spec(saved[0])
    check_feature_match(spec, FEATURE)
    with pytest.raises(
        DataError, match=r"sr: model 22050, requested 16000; n_mels: model 16, requested 128"
    ):
        check_feature_match(spec, FeatureConfig(n_mels=128, n_fft=512, sr=16000))


def test_bad_device_is_a_parameter_error(saved):
    with pytest.raises(ParameterError, match="device='nonsense'"):
        load_classifier(saved[0], device="nonsense")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="device='cuda' is not usable"):
            load_classifier(saved[0], device="cuda")


# -- shipped models ---------------------------------------------------------------------
def test_resolve_model_paths_and_names(saved, tmp_path, monkeypatch):
    path, _ = saved
    assert resolve_model(path) == path
    assert resolve_model(str(path)) == path
    with pytest.raises(DataError, match="is a folder"):
        resolve_model(tmp_path)
    with pytest.raises(DataError, match=r"neither an existing model file.*'drums'"):
        resolve_model(tmp_path / "nope.safetensors")

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setattr(pretrained, "pretrained_dir", lambda: shipped)
    monkeypatch.setitem(pretrained.PRETRAINED, "toy", "toy.safetensors")
    with pytest.raises(DataError, match="shipped model 'toy' is not installed") as info:
        load_classifier("toy")
    assert str(shipped / "toy.safetensors") in str(info.value)
    assert "toy" not in pretrained.available_models()
    (shipped / "toy.safetensors").write_bytes(path.read_bytes())
    assert resolve_model("toy") == shipped / "toy.safetensors"
    # A folder called like a shipped model (a corpus folder, say) does not hide it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy").mkdir()
    assert resolve_model("toy") == shipped / "toy.safetensors"
    assert load_classifier("toy")[1].labels == ["kick", "snare", "hihat"]
    assert "toy" in pretrained.available_models()


def test_shipped_drums_model_resolves_or_says_it_is_missing():
    drums = pretrained.pretrained_dir() / pretrained.PRETRAINED["drums"]
    if drums.is_file():
        assert resolve_model("drums") == drums
    else:
        with pytest.raises(DataError, match="shipped model 'drums' is not installed"):
            resolve_model("drums")
