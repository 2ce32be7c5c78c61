"""Generator model files: exact round trips; tampered, foreign and wrong-kind files refused."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch

from torchmusic.errors import DataError, ParameterError
from torchmusic.features import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, clip_frames, save_classifier
from torchmusic.models.symbolic import (
    GENERATORS,
    GeneratorSpec,
    build_generator,
    generate,
    load_generator,
    read_generator_spec,
    register_generator,
    save_generator,
)

V = 40
TOKENIZER = {"name": "REMI", "params": {"beat_res": {"0_4": 8}}}  # opaque to the file format
CONDITIONS = {"fields": {"tune_type": ["jig", "reel"]}, "offset": 38}
TINY = {
    "transformer": ({"vocab_size": V, "n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 16}),
    "lstm": {"vocab_size": V, "n_embd": 8, "hidden": 8},
    "vae": {"vocab_size": V, "seq_len": 8, "latent": 4, "enc_hidden": 8, "dec_hidden": 8,
            "hierarchical": True, "n_segments": 2, "conductor_hidden": 4, "n_embd": 4},
}  # fmt: skip
KIND = {"transformer": "tokens", "lstm": "tokens", "vae": "vae"}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _model_and_spec(arch="transformer"):
    torch.manual_seed(0)
    model = build_generator(arch, **TINY[arch])
    spec = GeneratorSpec(
        architecture=arch,
        model_config={},
        tokenizer=TOKENIZER,
        conditions=CONDITIONS,
        kind=KIND[arch],
        metrics={"valid_nats_per_token": 1.25},
        extra={"corpus": "folk"},
    )
    return model, spec


@pytest.fixture
def saved(tmp_path):
    model, spec = _model_and_spec()
    return save_generator(tmp_path / "g.safetensors", model, spec), model


def _rewrite_meta(path: Path, mutate) -> None:
    """Edit the metadata and keep both checksums valid (a well-formed but bad file)."""
    tensors = safetensors.torch.load(path.read_bytes())
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    spec = json.loads(meta["spec"])
    mutate(meta, spec)
    meta["spec"] = json.dumps(spec)
    meta["spec_sha256"] = hashlib.sha256(meta["spec"].encode()).hexdigest()
    path.write_bytes(safetensors.torch.save(tensors, metadata=meta))


@pytest.mark.parametrize("arch", sorted(TINY))
def test_round_trip_gives_identical_outputs(tmp_path, arch):
    model, spec = _model_and_spec(arch)
    path = save_generator(tmp_path / "sub" / f"{arch}.safetensors", model, spec)
    loaded, spec2 = load_generator(path)
    assert not loaded.training and type(loaded) is type(model)
    model.eval()
    ids = torch.randint(0, V, (2, 8), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        a, b = model(ids), loaded(ids)
        a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
        assert torch.equal(a, b)
    if arch != "vae":
        kw = dict(max_new_tokens=12, top_p=0.9, seed=4)
        assert generate(model, [1, 2], **kw) == generate(loaded, [1, 2], **kw)
    assert spec2.tokenizer == TOKENIZER and spec2.conditions == CONDITIONS
    assert spec2.kind == KIND[arch] and spec2.metrics == {"valid_nats_per_token": 1.25}
    assert spec2.model_config == {**loaded.config.__dict__}
    assert read_generator_spec(path) == spec2
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left over


def test_tied_weights_stay_tied(saved):
    path, _ = saved
    loaded, _ = load_generator(path)
    assert loaded.lm_head.weight is loaded.tok_emb.weight


def test_file_is_plain_safetensors(saved):
    path, _ = saved
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "torchmusic.generator" and meta["format_version"] == "1"
    assert json.loads(meta["spec"])["architecture"] == "transformer"


def test_loading_never_unpickles(saved, monkeypatch):
    path, _ = saved

    def boom(*args, **kwargs):
        raise AssertionError("pickle or torch.load was called")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    monkeypatch.setattr(torch, "load", boom)
    assert load_generator(path)[1].architecture == "transformer"


def test_tampered_weights_refused(saved):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF  # flip bits inside the last tensor's bytes
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"corrupt or truncated.*checksum"):
        load_generator(path)


def test_tampered_spec_and_truncation_refused(saved, tmp_path):
    path, _ = saved
    raw = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated"):
        load_generator(tmp_path / "cut.safetensors")
    # A spec edited without updating its checksum.
    tensors = safetensors.torch.load(raw)
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    meta["spec"] = meta["spec"].replace('"tokens"', '"vae"')
    path.write_bytes(safetensors.torch.save(tensors, metadata=meta))
    with pytest.raises(DataError, match="checksum of its spec"):
        load_generator(path)


def test_classifier_file_refused(tmp_path):
    feature = FeatureConfig(n_mels=16, n_fft=512)
    model = build_classifier(
        "simple_cnn", n_mels=16, n_frames=clip_frames(1.0, feature), n_classes=2,
        channels=(2, 2), dense_units=4,
    )  # fmt: skip
    spec = ClassifierSpec("simple_cnn", {}, ["a", "b"], False, feature.to_dict(), 1.0)
    path = save_classifier(tmp_path / "clf.safetensors", model, spec)
    with pytest.raises(DataError, match=r"audio classifier model file.*torchmusic predict"):
        load_generator(path)
    with pytest.raises(DataError, match="audio classifier"):
        read_generator_spec(path)


def test_pickle_and_foreign_files_refused(tmp_path):
    pt = tmp_path / "m.pt"
    torch.save({"w": torch.zeros(2)}, pt)
    with pytest.raises(DataError, match="pickled PyTorch file"):
        load_generator(pt)
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes(safetensors.torch.save({"w": torch.zeros(2)}))
    with pytest.raises(DataError, match="not a torchmusic generator model file"):
        load_generator(plain)
    with pytest.raises(DataError, match="neither an existing model file"):
        load_generator(tmp_path / "missing.safetensors")


def test_wrong_kind_for_the_command(saved):
    path, _ = saved
    with pytest.raises(DataError, match=r"'tokens' generator \(transformer\).*needs a 'vae'"):
        load_generator(path, kind="vae")
    assert load_generator(path, kind=("tokens", "pianoroll"))[1].kind == "tokens"


def test_well_formed_but_invalid_specs_refused(saved):
    path, _ = saved
    _rewrite_meta(path, lambda meta, spec: spec.update(architecture="wavenet"))
    with pytest.raises(DataError, match="unknown generator architecture 'wavenet'"):
        load_generator(path)
    _rewrite_meta(path, lambda meta, spec: spec.update(architecture="transformer", kind="vae"))
    with pytest.raises(DataError, match="does not fit architecture 'transformer'"):
        load_generator(path)
    _rewrite_meta(
        path,
        lambda meta, spec: (spec.update(kind="tokens"), spec["model_config"].update(n_embd=16)),
    )
    with pytest.raises(DataError, match="weights do not fit"):
        load_generator(path)
    _rewrite_meta(path, lambda meta, spec: meta.update(format_version="99"))
    with pytest.raises(DataError, match="format version '99'"):
        load_generator(path)


def test_save_checks_the_spec(tmp_path):
    model, spec = _model_and_spec()
    spec.architecture = "lstm"
    with pytest.raises(ParameterError, match="is a 'transformer' generator"):
        save_generator(tmp_path / "x.safetensors", model, spec)
    model, spec = _model_and_spec()
    spec.model_config = {"vocab_size": 3}
    with pytest.raises(ParameterError, match="differs from the model's config"):
        save_generator(tmp_path / "x.safetensors", model, spec)
    model, spec = _model_and_spec()
    spec.kind = "melody"
    with pytest.raises(ParameterError, match="kind='melody'"):
        save_generator(tmp_path / "x.safetensors", model, spec)
    with pytest.raises(ParameterError, match="not a registered generator"):
        save_generator(tmp_path / "x.safetensors", torch.nn.Linear(2, 2), spec)
    assert not list(tmp_path.iterdir())


def test_other_modules_can_register_architectures(tmp_path):
    import dataclasses

    @dataclasses.dataclass
    class ToyConfig:
        n: int = 3

    class Toy(torch.nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.w = torch.nn.Parameter(torch.arange(config.n, dtype=torch.float32))

    register_generator("toy_test_arch", ToyConfig, Toy)
    try:
        register_generator("toy_test_arch", ToyConfig, Toy)  # same classes again: fine
        with pytest.raises(ParameterError, match="already registered"):
            register_generator("toy_test_arch", ToyConfig, torch.nn.Module)
        path = save_generator(
            tmp_path / "toy.safetensors", Toy(ToyConfig(n=5)),
            GeneratorSpec("toy_test_arch", {}, None, None, "pianoroll"),
        )  # fmt: skip
        loaded, spec = load_generator(path, kind="pianoroll")
        assert torch.equal(loaded.w, torch.arange(5.0)) and spec.tokenizer is None
    finally:
        GENERATORS.pop("toy_test_arch", None)
