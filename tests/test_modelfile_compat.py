"""Model files written by earlier releases still load and give the same outputs.

``tests/fixtures/modelfiles`` holds tiny classifier, generator, embedder and
recommender files written by torchmusic at commit cd272ca (the release before the
one-``ModelFormat`` redesign; see ``make_fixtures.py``) with the outputs that
release computed from them. The shipped ``drums`` and ``folk`` files are pinned by
digest, since they are too large to copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "modelfiles"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
INPUT_SEED = 1234


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _input(shape):
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(INPUT_SEED))


def test_classifier_file_of_the_previous_release_loads():
    import torch

    from torchmusic.models import load_classifier, read_spec

    model, spec = load_classifier(FIXTURES / "classifier.safetensors")
    assert read_spec(FIXTURES / "classifier.safetensors") == spec
    assert spec.labels == ["kick", "snare"] and spec.architecture == "simple_cnn"
    want = EXPECTED["classifier"]
    with torch.no_grad():
        out = model(_input(want["shape"]))
    np.testing.assert_allclose(out.numpy(), want["output"], rtol=1e-5, atol=1e-6)


def test_generator_file_of_the_previous_release_loads():
    import torch

    from torchmusic.models.symbolic import load_generator, read_generator_spec

    path = FIXTURES / "generator.safetensors"
    model, spec = load_generator(path, kind="tokens")
    assert read_generator_spec(path) == spec and spec.metrics == {"loss": 1.5}
    want = EXPECTED["generator"]
    with torch.no_grad():
        out = model(torch.tensor(want["input"]))
    out = out[0] if isinstance(out, tuple) else out
    np.testing.assert_allclose(out.numpy(), want["output"], rtol=1e-5, atol=1e-6)


def test_embedder_file_of_the_previous_release_loads():
    import torch

    from torchmusic.models.embed.embedfile import (
        load_embedding_model,
        model_fingerprint,
        read_embedding_spec,
    )

    path = FIXTURES / "embedder.safetensors"
    model, spec = load_embedding_model(path)
    assert read_embedding_spec(path) == spec and spec.dim == 4
    want = EXPECTED["embedder"]
    # Catalogs record the fingerprint: it must not change, or they would be refused.
    assert model_fingerprint(path) == want["fingerprint"]
    with torch.no_grad():
        out = model.embed(_input(want["shape"]))
    np.testing.assert_allclose(out.numpy(), want["output"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["popularity", "als", "content"])
def test_recommender_file_of_the_previous_release_loads(kind, tmp_path):
    if kind == "als":
        pytest.importorskip("implicit")
    from torchmusic.recommend import load_recommender

    # A copy: loading must not need the file to sit anywhere in particular.
    path = shutil.copy(FIXTURES / f"recommender_{kind}.safetensors", tmp_path / "r.safetensors")
    model = load_recommender(path)
    assert model.kind == kind
    recs = model.recommend_similar(["Alpha"], k=3)
    want = EXPECTED[f"recommender_{kind}"]
    assert [r.item for r in recs] == [w[0] for w in want]
    assert [r.reason for r in recs] == [w[2] for w in want]
    np.testing.assert_allclose([r.score for r in recs], [w[1] for w in want], rtol=1e-5)


@pytest.mark.parametrize("name", ["drums", "folk"])
def test_shipped_files_load(name):
    from torchmusic.pretrained import pretrained_dir

    path = pretrained_dir() / f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} is not installed")
    if name == "drums":
        from torchmusic.models import load_classifier

        model, spec = load_classifier(name)
        assert "kick" in spec.labels and model.training is False
    else:
        from torchmusic.models.symbolic import load_generator

        model, spec = load_generator(name, kind="tokens")
        assert spec.conditions is not None and model.training is False
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != EXPECTED["shipped_sha256"][name]:
        pytest.skip(f"shipped {name} was re-shipped after the fixtures were made: loaded it anyway")
