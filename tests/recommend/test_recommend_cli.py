"""``torchmusic train recommend`` and ``torchmusic recommend`` on a real data slice."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from torchmusic.cli.main import main
from torchmusic.training.recommend.settings import RecommendRecipe


@pytest.fixture(scope="module")
def als_file(lastfm_slice_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "als.safetensors"
    code = main(
        [
            "train",
            "recommend",
            "--data",
            str(lastfm_slice_dir),
            "--arch",
            "als",
            "-o",
            str(out),
            "--factors",
            "8",
            "--iterations",
            "5",
        ]
    )
    assert code == 0
    return out


def test_train_then_recommend_for_a_user(als_file, lastfm_slice, capsys):
    capsys.readouterr()
    user = str(lastfm_slice.users[0])
    assert (
        main(["recommend", "--model", str(als_file), "--user", user, "-k", "3", "--format", "json"])
        == 0
    )
    recs = json.loads(capsys.readouterr().out)
    assert len(recs) == 3 and {"item", "name", "score", "reason"} <= set(recs[0])


def test_recommend_for_liked_items(als_file, lastfm_slice, capsys):
    capsys.readouterr()
    liked = [str(lastfm_slice.item_names[0]), str(lastfm_slice.items[1])]
    assert (
        main(
            ["recommend", "--model", str(als_file), "--like", *liked, "-k", "4", "--format", "csv"]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert main(["recommend", "--model", str(als_file), "--like", liked[0], "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("als recommendations for liked: ") and "reason" in out


def test_errors_are_reported(als_file, capsys):
    assert main(["recommend", "--model", str(als_file), "--user", "nobody"]) == 1
    assert "unknown user 'nobody'" in capsys.readouterr().err
    assert main(["recommend", "--model", str(als_file), "--like", "Zzzzzzz Qqqq"]) == 1
    assert "unknown item 'Zzzzzzz Qqqq'" in capsys.readouterr().err


def test_bad_training_settings(lastfm_slice_dir, tmp_path, capsys):
    code = main(
        [
            "train",
            "recommend",
            "--data",
            str(lastfm_slice_dir),
            "--arch",
            "als",
            "-o",
            str(tmp_path / "x.safetensors"),
            "--factorz",
            "8",
        ]
    )
    assert code == 1
    assert "factorz" in capsys.readouterr().err


def test_settings_from_recipe_and_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: hybrid\nhybrid:\n  cf: als\n  cf_config: {factors: 32}\n")
    kind, settings = RecommendRecipe.from_sources(
        config=recipe, overrides=["--cf_config.iterations", "3", "--tune-users=50"]
    ).settings()
    assert kind == "hybrid"
    assert settings == {
        "cf": "als",
        "cf_config": {"factors": 32, "iterations": 3},
        "tune_users": 50,
    }


def test_shipped_recipe_builds_every_model():
    from torchmusic.cli.recommend_cmd import MODELS
    from torchmusic.recommend import recommender_class

    recipe = Path(__file__).resolve().parents[2] / "configs" / "lastfm.yaml"
    assert RecommendRecipe.from_yaml(recipe).settings()[0] == "hybrid"
    for kind in MODELS:
        _, settings = RecommendRecipe.from_sources(config=recipe, model=kind).settings()
        model = recommender_class(kind)(**settings)
        assert model.kind == kind
