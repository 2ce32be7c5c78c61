"""Tiny real datasets and settings for the training tests.

- ``demo_manifest``: the demo corpus (FluidSynth-rendered tunes), 2 tune types x 4
  tracks of 2 s, with its own train/valid/test column.
- ``speech_music``: a class folder of 2 s excerpts of real recordings from
  ``../shared/data/recordings`` (3 LibriSpeech readings, 3 music pieces).

Features and networks are shrunk (32 mels, a few channels) so that a training run
takes seconds on a 2-core CPU; what is tested is the machinery, not accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from torchmusic.errors import DependencyError

TINY_FEATURE: dict[str, Any] = {"kind": "logmel", "n_mels": 32, "n_fft": 512, "hop_length": 256}
TINY_MODELS: dict[str, dict[str, Any]] = {
    "simple_cnn": {"channels": [4, 8], "dense_units": 16},
    "crnn": {"channels": [8, 8], "rnn_hidden": 8, "rnn_layers": 1},
    "shortchunk": {"width": 4, "multipliers": [1, 2]},
}
SPEECH = ("198-209-0000.ogg", "3436-172162-0000.ogg", "5703-47212-0000.ogg")
MUSIC = (
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Hungarian_Dance_number_5_string_orchestra.ogg",
    "147793__setuniman__sweet-waltz-0i-22mi.ogg",
)


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from torchmusic.data.demo import build_demo_corpus

    try:
        return build_demo_corpus(
            tmp_path_factory.mktemp("demo"),
            per_class=4,
            tune_types=("reel", "jig"),
            clip_seconds=2.0,
            workers=1,
            progress=False,
        )
    except DependencyError as exc:
        pytest.skip(f"demo corpus needs FluidSynth and a soundfont: {exc}")


def _write_excerpt(src: Path, dest: Path, *, offset: float, seconds: float) -> Path:
    """``seconds`` of ``src`` from ``offset`` as a 16-bit WAV at the file's own rate."""
    info = sf.info(src)
    start = int(offset * info.samplerate)
    y, sr = sf.read(src, start=start, stop=start + int(seconds * info.samplerate))
    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dest, y, sr, subtype="PCM_16")
    return dest


@pytest.fixture(name="write_excerpt")
def write_excerpt_fixture() -> Callable[..., Path]:
    """``write_excerpt(src, dest, *, offset, seconds) -> dest`` (a WAV excerpt)."""
    return _write_excerpt


@pytest.fixture(scope="session")
def speech_music(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """``root/{speech,music}/*.wav``: two 2 s excerpts of each of 6 real recordings."""
    root = tmp_path_factory.mktemp("speech_music") / "root"
    for label, names in (("speech", SPEECH), ("music", MUSIC)):
        for name in names:
            for k in range(2):
                _write_excerpt(
                    shared_data / "recordings" / name,
                    root / label / f"{Path(name).stem}-{k}.wav",
                    offset=2.0 * k,
                    seconds=2.0,
                )
    return root


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for the session: every run after the first reuses features."""
    return tmp_path_factory.mktemp("feature_cache")


@pytest.fixture
def make_config(feature_cache: Path) -> Callable[..., Any]:
    """``make_config(data, out, model="shortchunk", **settings) -> TrainConfig`` (tiny)."""
    from torchmusic.training import TrainConfig

    def make(data: Path, out: Path, *, model: str = "shortchunk", **settings: Any) -> TrainConfig:
        base: dict[str, Any] = dict(
            data=str(data),
            model=model,
            model_config=dict(TINY_MODELS.get(model, {})),
            feature=dict(TINY_FEATURE),
            clip_seconds=1.0,
            clips_per_track=1,  # train classify's default is 4
            batch_size=4,
            max_epochs=1,
            out_dir=str(out),
            cache_dir=str(feature_cache),
            extract_workers=1,
            log_every_n_steps=1,
        )
        if str(data).endswith(".csv"):
            base.update(label_column="tune_type", split_column="split")
        base.update(settings)
        return TrainConfig(**base)

    return make


@pytest.fixture
def tiny_cli_args() -> Callable[[str], list[str]]:
    """``tiny_cli_args(model) -> ["--clip_seconds", "1.0", ...]``: tiny settings as overrides."""

    def args_for(model: str = "shortchunk") -> list[str]:
        args = ["--clip_seconds", "1.0", "--batch_size", "4", "--log_every_n_steps", "1"]
        args += ["--clips_per_track", "1"]  # train classify's default is 4
        for key, value in TINY_FEATURE.items():
            args += [f"--feature.{key}", str(value)]
        for key, value in TINY_MODELS[model].items():
            args += [f"--model_config.{key}", str(value).replace(" ", "")]
        return args

    return args_for
