"""Prediction on real audio with a tiny model saved to (and loaded from) a real model file."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic import audio
from torchmusic.data import ClassFolderDataset, SlidingWindows
from torchmusic.errors import AudioFileError, ParameterError
from torchmusic.features import FeatureConfig
from torchmusic.models import ClassifierSpec, build_classifier, clip_frames, save_classifier
from torchmusic.serve import Predictor, TrackPrediction, predict_paths

FEATURE = FeatureConfig(n_mels=16, n_fft=512)
CLIP = 3.0
LABELS = ["blues", "country", "jazz", "rock"]
GTZAN = "mir_clips/gtzan_genre/genres/country/country.00000.wav"
TRUMPET = "recordings/sorohanro_-_solo-trumpet-06.ogg"  # 5.3 s


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The models here are tiny: extra intra-op threads only add synchronisation,
    # which costs seconds per call when the test machine's cores are busy.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _save_tiny(path: Path, *, arch: str, multi_label: bool, **overrides) -> Path:
    torch.manual_seed(1)
    model = build_classifier(
        arch, n_mels=16, n_frames=clip_frames(CLIP, FEATURE), n_classes=len(LABELS), **overrides
    )
    # Spread the logits, so the ranking and the per-window values are not all ties.
    with torch.no_grad():
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.copy_(torch.tensor([0.5, 2.0, -1.0, 0.0]))
    spec = ClassifierSpec(arch, {}, LABELS, multi_label, FEATURE.to_dict(), CLIP)
    return save_classifier(path, model.eval(), spec)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "genre.safetensors"
    return _save_tiny(out, arch="shortchunk", multi_label=False, width=2)


@pytest.fixture(scope="module")
def tagger_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "tags.safetensors"
    return _save_tiny(out, arch="crnn", multi_label=True, channels=(4, 4), rnn_hidden=4)


@pytest.fixture(scope="module")
def predictor(model_file) -> Predictor:
    return Predictor(model_file)


def _tone(path: Path, seconds: float, sr: int = 22050) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path


def test_whole_track_with_timeline(predictor, shared_data):
    path = shared_data / GTZAN
    pred = predictor.predict_file(path, top_k=len(LABELS), timeline=True)
    assert isinstance(pred, TrackPrediction) and pred.path == path
    n = audio.info(path).frames  # 22050 Hz file: no resampling
    assert pred.duration == pytest.approx(n / 22050)
    # Windows every 3 s; the last, partial one is padded and ends at the track's end.
    expected = math.ceil((n - 66150) / 66150) + 1
    assert len(pred.segments) == expected == 11
    for k, (start, end, pairs) in enumerate(pred.segments):
        assert start == pytest.approx(3.0 * k)
        assert end == pytest.approx(min(start + 3.0, pred.duration))
        probs = [p for _, p in pairs]
        assert probs == sorted(probs, reverse=True)
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert sorted(lab for lab, _ in pairs) == sorted(LABELS)
    probs = [p for _, p in pred.labels]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0, abs=1e-5)
    # Track = mean of the windows.
    for label, p in pred.labels:
        mean = np.mean([dict(pairs)[label] for _, _, pairs in pred.segments])
        assert p == pytest.approx(mean, abs=1e-6)
        assert pred.probabilities[label] == pytest.approx(p)


def test_top_k_and_no_timeline(predictor, shared_data):
    pred = predictor.predict_file(shared_data / TRUMPET, top_k=2)
    assert len(pred.labels) == 2 and pred.segments == []
    full = predictor.predict_file(shared_data / TRUMPET, top_k=50)
    assert len(full.labels) == len(LABELS)
    assert full.labels[:2] == pred.labels
    with pytest.raises(ParameterError, match="top_k=0"):
        predictor.predict_file(shared_data / TRUMPET, top_k=0)


def test_windows_equal_the_training_clips_from_the_feature_cache(predictor, shared_data, tmp_path):
    # Training reads clips from cached whole-track features; prediction must feed
    # the model the very same numbers.
    root = tmp_path / "data"
    (root / "jazz").mkdir(parents=True)
    shutil.copy(shared_data / TRUMPET, root / "jazz" / "t.ogg")
    ds = ClassFolderDataset(root, features=FEATURE, cache_dir=tmp_path / "cache")
    windows = SlidingWindows(ds, duration=CLIP, hop=1.3)
    y, _ = audio.load(root / "jazz" / "t.ogg", sr=FEATURE.sr)
    p = Predictor(predictor.source, hop_seconds=1.3)
    ours, spans = p.window_features(y)
    assert ours.shape == (len(windows), 16, clip_frames(CLIP, FEATURE))
    for k in range(len(windows)):
        torch.testing.assert_close(ours[k], windows[k]["features"], rtol=1e-5, atol=1e-4)
        assert spans[k][0] == pytest.approx(windows[k]["offset"])


def test_predict_windows_is_softmax_of_the_model(predictor):
    x = torch.randn(70, 16, clip_frames(CLIP, FEATURE))  # more than one batch of 64
    probs = predictor.predict_windows(x)
    assert probs.shape == (70, 4) and probs.device.type == "cpu"
    with torch.inference_mode():
        torch.testing.assert_close(probs, predictor.model(x).softmax(-1))
    with pytest.raises(ParameterError, match="windows must have shape"):
        predictor.predict_windows(torch.randn(2, 16, 5))


def test_overlapping_hop(model_file, shared_data):
    p = Predictor(model_file, hop_seconds=1.5)
    pred = p.predict_file(shared_data / TRUMPET, timeline=True)
    starts = [s for s, _, _ in pred.segments]
    assert starts == pytest.approx([0.0, 1.5, 3.0])  # 5.33 s: windows at 0, 1.5 (full), 3 (padded)
    with pytest.raises(ParameterError, match="hop_seconds"):
        Predictor(model_file, hop_seconds=0)


def test_file_shorter_than_one_clip_is_padded(predictor, tmp_path):
    pred = predictor.predict_file(_tone(tmp_path / "short.wav", 0.5), timeline=True)
    assert [(s, e) for s, e, _ in pred.segments] == [(0.0, pytest.approx(0.5))]
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_multi_label_uses_sigmoid(tagger_file, shared_data):
    p = Predictor(tagger_file)
    pred = p.predict_file(shared_data / TRUMPET, top_k=4, timeline=True)
    probs = list(pred.probabilities.values())
    assert all(0 < q < 1 for q in probs)
    assert sum(probs) != pytest.approx(1.0, abs=1e-3)  # independent tags
    windows, _ = p.window_features(audio.load(shared_data / TRUMPET, sr=FEATURE.sr)[0])
    with torch.inference_mode():
        torch.testing.assert_close(p.predict_windows(windows), p.model(windows).sigmoid())


def test_from_model_matches_the_file(model_file, predictor, shared_data):
    from torchmusic.models import load_classifier

    model, spec = load_classifier(model_file)
    spec.model_config = {}
    in_memory = Predictor.from_model(model, spec)
    a = in_memory.predict_file(shared_data / TRUMPET)
    b = predictor.predict_file(shared_data / TRUMPET)
    assert a.labels == b.labels


def test_unreadable_file_raises(predictor, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioFileError, match=r"bad\.wav"):
        predictor.predict_file(bad)


def test_predict_paths_skips_and_reports_bad_files(predictor, shared_data, tmp_path):
    folder = tmp_path / "music"
    (folder / "sub").mkdir(parents=True)
    _tone(folder / "a.wav", 1.0)
    _tone(folder / "sub" / "b.wav", 4.0)
    (folder / "sub" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "notes.txt").write_text("not audio, not searched")
    report = predict_paths(
        [folder, shared_data / TRUMPET, tmp_path / "missing.mp3"],
        model=predictor,
        top_k=2,
        progress=False,
    )
    names = [p.name for p in report.predictions]
    assert len(names) == 3 and any(n.endswith("a.wav") for n in names)
    assert any(n.endswith("sub/b.wav") for n in names)
    failed = {f.path.name: f.error for f in report.failed}
    assert set(failed) == {"broken.wav", "missing.mp3"}
    assert "broken.wav" in failed["broken.wav"] and "no such file" in failed["missing.mp3"]
    assert all(len(p.labels) == 2 for p in report.predictions)


def test_predicting_does_not_import_lightning(model_file, shared_data):
    code = (
        "import sys\n"
        "from torchmusic.serve.predict import predict_paths\n"
        f"r = predict_paths([{str(shared_data / TRUMPET)!r}], model={str(model_file)!r},"
        " progress=False)\n"
        "assert len(r.predictions) == 1, r\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('lightning', 'pytorch_lightning', 'lightning_fabric')))\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")  # a tiny model: threads only cost start-up
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
