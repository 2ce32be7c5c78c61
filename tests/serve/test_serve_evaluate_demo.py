"""Train the baseline on a tiny demo corpus and evaluate it with the label column it recorded."""

from __future__ import annotations

import pytest

from torchmusic.data import ManifestDataset
from torchmusic.data.demo import build_demo_corpus, find_fluidsynth, find_soundfont
from torchmusic.errors import DataError, DependencyError
from torchmusic.models import read_spec
from torchmusic.serve.evaluate import evaluate_model
from torchmusic.training.classify.baseline import fit_baseline


@pytest.fixture(scope="module")
def demo_manifest(tmp_path_factory):
    try:
        find_fluidsynth()
        find_soundfont()
    except DependencyError as exc:
        pytest.skip(f"the demo corpus needs FluidSynth and a soundfont: {exc}")
    return build_demo_corpus(
        tmp_path_factory.mktemp("demo") / "corpus",
        per_class=2,
        tune_types=["reel", "jig"],
        clip_seconds=4.0,
        seed=0,
        workers=2,
        progress=False,
    )


def test_evaluate_uses_the_label_column_of_the_model_file(demo_manifest, tmp_path):
    tracks = ManifestDataset(demo_manifest, label_column="tune_type")
    model = fit_baseline(
        tracks,
        out_dir=tmp_path / "run",
        label_column="tune_type",
        feature={"kind": "mfcc"},
        clip_seconds=1.0,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    spec = read_spec(model)
    assert spec.extra["label_column"] == "tune_type" and spec.labels == ["jig", "reel"]

    report = evaluate_model(model, demo_manifest, progress=False)  # no label_column given
    assert report.data["label_column"] == "tune_type"
    assert report.data["label_counts"] == {"jig": 2, "reel": 2}
    # Evaluation cuts the same windows the baseline was fitted on (4 s tracks, 1 s clips),
    # so its clip accuracy on the training tracks is the training accuracy.
    assert report.data["n_clips"] == spec.metrics["n_train_clips"] == 4 * 4
    assert report.clip["accuracy"] == pytest.approx(spec.metrics["train_accuracy"])
    # Another column of the same manifest holds labels this model does not know.
    with pytest.raises(DataError, match="does not know"):
        evaluate_model(model, demo_manifest, label_column="instrument_family", progress=False)
