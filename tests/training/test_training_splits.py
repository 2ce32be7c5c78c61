"""Splits done right: the manifest's split column by default, a carved validation split,
the tracks of each split recorded, and evaluate refusing a model on tracks it trained on.

The data are tiny generated manifests of sine tones (two classes, 1 s each).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.data.splits import carve_validation, seen_digests, track_digest
from torchmusic.errors import DataError
from torchmusic.training.classify.data import load_tracks, plan_splits

SR = 22050


def _tone(path: Path, freq: float, seconds: float = 1.0) -> None:
    t = np.arange(int(seconds * SR)) / SR
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.4 * np.sin(2 * np.pi * freq * t), SR, subtype="PCM_16")


def _manifest(root: Path, rows: list[dict[str, str]], name: str = "tracks.csv") -> Path:
    path = root / name
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> tuple[Path, list[dict[str, str]]]:
    """12 tones (low / high, 6 each) in 6 'artists' of 2 tracks; 4 of them in 'test'."""
    root = tmp_path_factory.mktemp("tones")
    rows = []
    for i in range(12):
        label = "low" if i % 2 == 0 else "high"
        freq = (150.0 if label == "low" else 2000.0) * (1 + 0.03 * i)
        _tone(root / "audio" / f"t{i:02d}.wav", freq)
        rows.append(
            {
                "path": f"audio/t{i:02d}.wav",
                "label": label,
                "artist": f"a{i // 2}",  # a0 = {t00 low, t01 high}, ...
                "split": "test" if i >= 8 else "train",
            }
        )
    return root, rows


def _cfg(make_config, data, tmp_path, **settings):
    settings.setdefault("label_column", "label")
    settings.setdefault("split_column", None)  # the default: auto
    return make_config(data, tmp_path / "run", **settings)


# -- which split source -----------------------------------------------------------------
def test_the_split_column_is_used_by_default(tmp_path, make_config, tones):
    root, rows = tones
    rows = [dict(r, split="valid" if i in (2, 3) else r["split"]) for i, r in enumerate(rows)]
    cfg = _cfg(make_config, _manifest(root, rows, "auto.csv"), tmp_path)
    plan = plan_splits(load_tracks(cfg), cfg)
    assert {k: len(v) for k, v in plan.parts.items()} == {"train": 6, "valid": 2, "test": 4}
    assert plan.source == "column split" and plan.carved is None
    assert plan.summary() == "splits: manifest column 'split'"
    test_ids = {t.track_id for t in plan.parts["test"].tracks}
    assert test_ids == {f"audio/t{i:02d}" for i in range(8, 12)}


def test_split_column_none_opts_out_to_a_seeded_random_split(tmp_path, make_config, tones):
    root, rows = tones
    data = _manifest(root, rows, "optout.csv")
    for off in ("none", "None", ""):
        cfg = _cfg(make_config, data, tmp_path, split_column=off)
        plan = plan_splits(load_tracks(cfg), cfg)
        assert plan.source == "random"
        assert "random seeded fractions" in plan.description
        assert "split_column: none" in plan.description
        assert sum(len(p) for p in plan.parts.values()) == 12
    again = plan_splits(load_tracks(cfg), cfg)
    assert {k: [t.track_id for t in v.tracks] for k, v in again.parts.items()} == {
        k: [t.track_id for t in v.tracks] for k, v in plan.parts.items()
    }


def test_no_split_column_is_a_random_split_and_says_so(tmp_path, make_config, tones):
    root, rows = tones
    data = _manifest(root, [{k: v for k, v in r.items() if k != "split"} for r in rows], "no.csv")
    cfg = _cfg(make_config, data, tmp_path)
    plan = plan_splits(load_tracks(cfg), cfg)
    assert plan.source == "random"
    assert "(seed 0, stratified by label)" in plan.description
    assert "the manifest has no 'split' column" in plan.summary()


def test_a_half_filled_split_column_is_an_error(tmp_path, make_config, tones):
    root, rows = tones
    rows = [dict(r, split="" if i == 5 else r["split"]) for i, r in enumerate(rows)]
    data = _manifest(root, rows, "half.csv")
    with pytest.raises(DataError, match=r"split column 'split' is empty or missing for 1 of 12"):
        load_tracks(_cfg(make_config, data, tmp_path))
    # An explicitly named column that is absent is an error too ...
    with pytest.raises(DataError, match=r"split column 'fold'.*split_column: none"):
        load_tracks(_cfg(make_config, data, tmp_path, split_column="fold"))
    # ... and opting out reads no column at all.
    cfg = _cfg(make_config, data, tmp_path, split_column="none")
    assert plan_splits(load_tracks(cfg), cfg).source == "random"


def test_split_column_none_is_accepted_for_a_class_folder(tmp_path, make_config, tones):
    root, _ = tones
    folder = tmp_path / "classes"
    for i, name in enumerate(sorted((root / "audio").glob("*.wav"))):
        dest = folder / ("low" if i % 2 == 0 else "high") / name.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(name, dest)
    cfg = make_config(folder, tmp_path / "run", split_column="none")
    assert plan_splits(load_tracks(cfg), cfg).source == "random"


# -- a validation split carved out of train ---------------------------------------------
def test_train_and_test_only_carves_a_stratified_grouped_validation_split(
    tmp_path, make_config, tones
):
    root, rows = tones
    data = _manifest(root, rows, "traintest.csv")
    cfg = _cfg(
        make_config,
        data,
        tmp_path,
        group_column="artist",
        split_fractions={"train": 0.5, "valid": 0.25, "test": 0.25},
    )
    plan = plan_splits(load_tracks(cfg), cfg)
    parts = plan.parts
    assert len(parts["test"]) == 4  # the test rows are untouched
    assert len(parts["train"]) + len(parts["valid"]) == 8
    assert len(parts["valid"]) >= 2
    groups = {k: {t.group for t in v.tracks} for k, v in parts.items()}
    assert not groups["train"] & groups["valid"]  # an artist never straddles the carve
    assert {lab for t in parts["valid"].tracks for lab in t.labels} == {"low", "high"}
    assert plan.carved is not None and plan.carved["fraction"] == pytest.approx(1 / 3)
    summary = plan.summary()
    assert "manifest column 'split'; no 'valid' split" in summary
    assert "carved out as validation" in summary and "grouped by 'artist'" in summary
    # Seeded: the same seed gives the same carve, another seed may differ.
    again = plan_splits(load_tracks(cfg), cfg)
    assert [t.track_id for t in again.parts["valid"].tracks] == [
        t.track_id for t in parts["valid"].tracks
    ]


def test_carve_always_leaves_one_unit_for_validation(tones, tmp_path, make_config):
    root, rows = tones
    cfg = _cfg(make_config, _manifest(root, rows[:3], "three.csv"), tmp_path, split_column="none")
    ds = load_tracks(cfg)
    train, valid, _how = carve_validation(ds, 0.05, seed=3)
    assert len(valid) >= 1 and len(train) + len(valid) == 3
    with pytest.raises(DataError, match="cannot carve a validation split"):
        carve_validation(ds.with_tracks(ds.tracks[:1]), 0.2)


# -- what the run records, and evaluate's leakage check ---------------------------------
def _train(cfg):
    from torchmusic.training import train_classifier

    return train_classifier(cfg, progress=False)


def test_data_json_and_model_file_record_the_tracks(tmp_path, make_config, tones):
    root, rows = tones
    data = _manifest(root, rows, "record.csv")
    cfg = _cfg(make_config, data, tmp_path, model="mfcc-svm", model_config={})
    result = _train(cfg)
    record = json.loads((result.run_dir / "data.json").read_text())
    assert record["split"]["source"] == "column split"
    assert record["split"]["carved"]["tracks"] == record["tracks"]["valid"]
    assert sorted(record["splits"]) == ["test", "train", "valid"]
    test_rows = record["splits"]["test"]
    assert {r["track_id"] for r in test_rows} == {f"audio/t{i:02d}" for i in range(8, 12)}
    assert all(r["digest"] == track_digest(r["path"]) for r in test_rows)

    from torchmusic.models import read_spec

    spec = read_spec(result.model_file)
    seen = seen_digests(spec.extra)
    train_valid = record["splits"]["train"] + record["splits"]["valid"]
    assert seen == {r["digest"] for r in train_valid}
    assert not seen & {r["digest"] for r in test_rows}


@pytest.mark.parametrize("model", ["mfcc-svm", "shortchunk"])
def test_evaluate_refuses_a_model_that_trained_on_the_test_tracks(
    tmp_path, make_config, tones, model, capsys
):
    from torchmusic.cli.main import main
    from torchmusic.serve.evaluate import evaluate_model

    root, rows = tones
    data = _manifest(root, rows, f"leak-{model}.csv")
    # The old behaviour: the split column ignored, a random split over all 12 tracks.
    leaky = _train(
        _cfg(
            make_config,
            data,
            tmp_path / "leaky",
            model=model,
            split_column="none",
            split_fractions={"train": 0.7, "valid": 0.3},
        )
    )
    with pytest.raises(DataError, match=r"trained or validated on \d+ of the 4 tracks of split"):
        evaluate_model(leaky.model_file, data, split="test", progress=False)
    # The CLI says so in one line and exits 1 (no traceback).
    code = main(["evaluate", str(leaky.model_file), "--data", str(data), "--split", "test"])
    err = capsys.readouterr().err
    assert code == 1 and "--allow-seen-tracks" in err and "Traceback" not in err
    # Research use: allowed explicitly, and the report counts the seen tracks.
    report = evaluate_model(
        leaky.model_file, data, split="test", progress=False, allow_seen_tracks=True
    )
    assert report.data["leakage"]["seen"] >= 1
    assert "not held-out figures" in report.summary()
    # Evaluating the training split itself is no held-out claim: counted, not refused.
    train_report = evaluate_model(leaky.model_file, data, split="train", progress=False)
    assert train_report.data["leakage"]["seen"] == 8

    # The same model file without its record: the run folder's data.json is read.
    if model == "mfcc-svm":
        from torchmusic.models import load_classifier, save_classifier

        net, spec = load_classifier(leaky.model_file)
        del spec.extra["seen_tracks"]
        save_classifier(leaky.model_file, net, spec)
        with pytest.raises(DataError, match=r"record: .*data\.json"):
            evaluate_model(leaky.model_file, data, split="test", progress=False)

    # Trained with the split column (the default now): the test split is clean.
    clean = _train(_cfg(make_config, data, tmp_path / "clean", model=model))
    report = evaluate_model(clean.model_file, data, split="test", progress=False)
    assert report.data["leakage"]["checked"] and report.data["leakage"]["seen"] == 0


# -- defaults sized to the data -----------------------------------------------------------
def test_clip_seconds_null_is_the_longest_track_when_every_track_is_short(
    tmp_path, make_config, tones
):
    from torchmusic.training.classify.data import resolve_clip_seconds

    root, rows = tones
    _tone(root / "audio" / "short.wav", 300.0, seconds=0.62)
    data = _manifest(root, [*rows, dict(rows[0], path="audio/short.wav")], "clips.csv")
    cfg = resolve_clip_seconds(_cfg(make_config, data, tmp_path, clip_seconds=None))
    assert cfg.clip_seconds == 1.0  # the 1 s tones, not 3 s of which 2 s are padding
    explicit = resolve_clip_seconds(_cfg(make_config, data, tmp_path, clip_seconds=2.5))
    assert explicit.clip_seconds == 2.5


def test_clip_seconds_null_is_three_seconds_when_a_track_is_long_enough(
    tmp_path, make_config, tones
):
    from torchmusic.training.classify.data import resolve_clip_seconds

    root, rows = tones
    _tone(root / "audio" / "long.wav", 300.0, seconds=3.5)
    _tone(root / "audio" / "mid.wav", 300.0, seconds=1.24)
    data = _manifest(root, [*rows, dict(rows[0], path="audio/long.wav")], "long.csv")
    assert resolve_clip_seconds(_cfg(make_config, data, tmp_path, clip_seconds=None)).clip_seconds == 3.0
    data = _manifest(root, [*rows, dict(rows[0], path="audio/mid.wav")], "mid.csv")
    assert resolve_clip_seconds(_cfg(make_config, data, tmp_path, clip_seconds=None)).clip_seconds == 1.3


def test_keep_weights_auto_keeps_the_last_epoch_on_a_tiny_validation_split(
    tmp_path, make_config, tones, monkeypatch
):
    from torchmusic.training.classify import job

    root, rows = tones
    rows = [dict(r, split="valid" if i in (2, 3) else r["split"]) for i, r in enumerate(rows)]
    cfg = _cfg(make_config, _manifest(root, rows, "keep.csv"), tmp_path)
    plan = plan_splits(load_tracks(cfg), cfg)
    assert cfg.keep_weights == "auto" and job.kept_weights(cfg, plan) == "last"
    monkeypatch.setattr(job, "MIN_VALID_TRACKS_FOR_BEST", 2)
    assert job.kept_weights(cfg, plan) == "best"
    cfg.keep_weights = "last"
    assert job.kept_weights(cfg, plan) == "last"
    cfg.keep_weights = "newest"
    with pytest.raises(Exception, match="keep_weights='newest' is not one of"):
        cfg.validate()
