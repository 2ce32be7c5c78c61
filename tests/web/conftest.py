"""Fixtures of the web tests: a tiny classifier file, a tiny catalog and recommender, apps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic.features import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, clip_frames, save_classifier
from torchmusic.web.settings import Settings  # no FastAPI import: the test modules skip without it

#: Why the web tests skip without FastAPI.
NO_FASTAPI = "fastapi is not installed (pip install 'torchmusic[serve]')"
_IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_serve_extra() -> None:
    """Skip the calling test module without FastAPI/httpx, but fail under CI.

    A module-level skip is a collection report, which tests/conftest.py's CI rule (a
    skip for a missing package fails) does not see; so the rule is applied here.
    """
    import importlib.util

    # python-multipart is importable as `python_multipart` (>= 0.0.13) or `multipart`.
    for modules in (("fastapi",), ("httpx",), ("python_multipart", "multipart")):
        if not any(importlib.util.find_spec(m) for m in modules):
            if _IN_CI:
                raise ImportError(f"CI=true: {NO_FASTAPI} ({modules[0]} missing)")
            pytest.skip(NO_FASTAPI, allow_module_level=True)

FEATURE = FeatureConfig(n_mels=16, n_fft=512)
CLIP = 3.0
LABELS = ["blues", "country", "jazz", "rock"]
TRUMPET = "recordings/sorohanro_-_solo-trumpet-06.ogg"  # 5.3 s, real
TOKEN = "s3cret-token-for-tests"
SR = 22050


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread():
    # Tiny models: extra intra-op threads only cost synchronisation on busy cores.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="package")
def model_file(tmp_path_factory) -> Path:
    """A tiny untrained genre classifier saved as a real model file (no training)."""
    torch.manual_seed(1)
    model = build_classifier(
        "shortchunk", n_mels=16, n_frames=clip_frames(CLIP, FEATURE), n_classes=4, width=2
    )
    with torch.no_grad():  # spread the logits so the ranking is not all ties
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.copy_(torch.tensor([0.5, 2.0, -1.0, 0.0]))
    spec = ClassifierSpec("shortchunk", {}, LABELS, False, FEATURE.to_dict(), CLIP)
    out = tmp_path_factory.mktemp("model") / "genre.safetensors"
    return save_classifier(out, model.eval(), spec)


def write_tone(path: Path, freq: float, *, seconds: float = 1.5, seed: int = 0) -> Path:
    """A harmonic tone with a little noise, 16-bit WAV."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * freq * h * t) / h**2 for h in (1, 2, 3, 4))
    y = 0.3 * y / np.abs(y).max() + 0.01 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")
    return path


@pytest.fixture(scope="package")
def catalog_dir(tmp_path_factory) -> Path:
    """A catalog of 6 synthesised tones (mfcc embedder: no model, fast)."""
    from torchmusic.recommend.catalog import Catalog

    audio = tmp_path_factory.mktemp("tones")
    for i, f in enumerate([110.0, 130.0, 220.0, 260.0, 440.0, 520.0]):
        write_tone(audio / f"t{i}.wav", f, seed=i)
    folder = tmp_path_factory.mktemp("catalog")
    cat = Catalog(folder)
    cat.add([audio], embedder="mfcc", workers=1)
    cat.close()
    return folder


@pytest.fixture(scope="package")
def recommender_file(tmp_path_factory) -> Path:
    """An item-kNN recommender fitted on a small synthetic listening matrix."""
    import scipy.sparse as sp

    from torchmusic.recommend import ListeningData, recommender_class

    rng = np.random.default_rng(0)
    plays = (rng.random((30, 12)) < 0.4) * rng.integers(1, 50, (30, 12))
    data = ListeningData(
        users=np.array([f"u{i}" for i in range(30)]),
        items=np.array([f"i{j}" for j in range(12)]),
        item_names=np.array([f"Artist {j}" for j in range(12)]),
        plays=sp.csr_matrix(plays.astype(np.float32)),
        tags=np.array(["rock"]),
        tag_assignments=np.array([[0, 0, 0]]),
    )
    model = recommender_class("itemknn")()
    model.fit(data)
    return model.save(tmp_path_factory.mktemp("rec") / "knn.safetensors")


@pytest.fixture(scope="package")
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="package")
def settings(model_file, catalog_dir, recommender_file, work_dir) -> Settings:
    return Settings(
        models={"genre": str(model_file)},
        classifier="genre",
        catalog=catalog_dir,
        recommender=str(recommender_file),
        work_dir=work_dir,
        max_upload_mb=2.0,
        max_duration_s=60.0,
        workers=2,
        queue_size=2,
    )


@pytest.fixture(scope="package")
def client(settings):
    pytest.importorskip("fastapi", reason=NO_FASTAPI)
    from fastapi.testclient import TestClient

    from torchmusic.web import create_app

    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="package")
def trumpet(shared_data) -> Path:
    return shared_data / TRUMPET
