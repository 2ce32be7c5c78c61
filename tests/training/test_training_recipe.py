"""The recipe base every trainer's settings derive from (training/recipe.py)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, ClassVar

import pytest

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.recipe import Recipe, RunRecipe, accepts_renamed

REPO = Path(__file__).resolve().parents[2]


@accepts_renamed
@dataclasses.dataclass
class ToyRecipe(RunRecipe):
    data: str | list[str] | None = None
    width: int = 8
    crops: int = 1
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("data", "out_dir")
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = ("data", "width")
    RENAMED: ClassVar[dict[str, str]] = {"old_width": "width"}


def test_precedence_defaults_then_yaml_then_named_then_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("width: 16\nlr: 0.5\nbatch_size: 4\n")
    cfg = ToyRecipe.from_sources(
        config=recipe, lr=0.25, batch_size=None, overrides=["--batch_size", "2"]
    )
    assert (cfg.width, cfg.lr, cfg.batch_size, cfg.crops) == (16, 0.25, 2, 1)


def test_dotted_keys_nest_and_yaml_scalars_parse():
    cfg = ToyRecipe.from_sources(
        overrides=["--options.a.b", "3", "--options.c=[1, 2]", "--resume", "--devices", "[0]"]
    )
    assert cfg.options == {"a": {"b": 3}, "c": [1, 2]}
    assert cfg.resume is True and cfg.devices == [0]
    with pytest.raises(ParameterError, match="not a mapping"):
        cfg.set("width.x", 1)


def test_unknown_keys_suggest_the_closest_and_types_are_checked():
    with pytest.raises(ParameterError, match="did you mean 'width'"):
        ToyRecipe.from_dict({"widht": 3})
    with pytest.raises(ParameterError, match="width='wide' has the wrong type; expected int"):
        ToyRecipe(width="wide")
    with pytest.raises(ParameterError, match="must be a mapping"):
        ToyRecipe.from_dict(["width", 3])


def test_renamed_settings_still_load_with_a_warning(tmp_path):
    recipe = tmp_path / "old.yaml"
    recipe.write_text("old_width: 5\n")
    with pytest.warns(FutureWarning, match="'old_width' was renamed 'width'"):
        assert ToyRecipe.from_yaml(recipe).width == 5
    with pytest.warns(FutureWarning, match="renamed"):
        assert ToyRecipe(old_width=6).width == 6
    with pytest.raises(ParameterError, match="not both"):
        ToyRecipe(old_width=6, width=7)


def test_paths_resolve_against_the_recipe_folder(tmp_path):
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "r.yaml").write_text("data: [../audio, /abs/x]\nout_dir: runs/a\n")
    cfg = ToyRecipe.from_yaml(folder / "r.yaml")
    assert cfg.data == [str(tmp_path / "audio"), "/abs/x"]
    assert cfg.out_dir == str(folder / "runs" / "a")


def test_yaml_round_trip_is_atomic_and_identity_survives(tmp_path):
    cfg = ToyRecipe(data=str(tmp_path / "x"), width=3, options={"k": 1})
    path = cfg.to_yaml(tmp_path / "sub" / "config.yaml")
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]  # no temp file left
    back = ToyRecipe.from_yaml(path)
    assert back == cfg and back.identity() == {"data": str(tmp_path / "x"), "width": 3}


@pytest.mark.parametrize(
    "text,match",
    [("width: [1\n", "not valid YAML"), ("- 1\n", "must hold a mapping")],
)
def test_bad_recipe_files_are_data_errors(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        ToyRecipe.from_yaml(path)
    with pytest.raises(DataError, match="does not exist"):
        ToyRecipe.from_yaml(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("batch_size", 0, "batch_size=0 must be a positive integer"),
        ("lr", 0.0, "lr=0.0 must be > 0"),
        ("grad_clip", -1.0, "grad_clip=-1.0 must be >= 0"),
        ("max_minutes", 0.0, "max_minutes=0.0 must be > 0"),
        ("scheduler", "step", "scheduler='step'; expected one of"),
        ("max_steps", 0, "max_steps=0 must be a positive integer"),
    ],
)
def test_shared_settings_are_validated(field, value, match):
    with pytest.raises(ParameterError, match=match):
        dataclasses.replace(ToyRecipe(), **{field: value}).validate()


def test_every_trainer_shares_the_vocabulary():
    from torchmusic.training.classify.settings import TrainConfig
    from torchmusic.training.embed.settings import EmbedTrainConfig
    from torchmusic.training.gan.settings import GanTrainConfig
    from torchmusic.training.lm.settings import LMTrainConfig
    from torchmusic.training.pianoroll.settings import PianoRollTrainConfig
    from torchmusic.training.recommend.settings import RecommendRecipe, TwoTowerTrainConfig

    shared = {f.name for f in dataclasses.fields(RunRecipe)}
    for cls in (TrainConfig, LMTrainConfig, PianoRollTrainConfig, EmbedTrainConfig, GanTrainConfig):
        assert issubclass(cls, RunRecipe) and shared <= {f.name for f in dataclasses.fields(cls)}
    two_tower = {f.name for f in dataclasses.fields(TwoTowerTrainConfig)}
    assert {"max_epochs", "scheduler", "batch_size", "lr", "seed"} <= two_tower
    assert issubclass(TwoTowerTrainConfig, Recipe) and issubclass(RecommendRecipe, Recipe)


def test_old_setting_names_of_the_trainers_load():
    from torchmusic.training.embed.settings import EmbedTrainConfig
    from torchmusic.training.recommend.settings import TwoTowerTrainConfig

    with pytest.warns(FutureWarning):
        assert EmbedTrainConfig.from_dict({"crops_per_track": 3}).clips_per_track == 3
    with pytest.warns(FutureWarning):
        cfg = TwoTowerTrainConfig(epochs=2, schedule="cosine")
    assert (cfg.max_epochs, cfg.scheduler) == (2, "cosine")


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_every_shipped_recipe_loads_without_warnings(name):
    from torchmusic.training.classify.settings import TrainConfig
    from torchmusic.training.denoise.settings import DenoiseTrainConfig
    from torchmusic.training.embed.settings import EmbedTrainConfig
    from torchmusic.training.gan.settings import GanTrainConfig
    from torchmusic.training.lm.settings import LMTrainConfig
    from torchmusic.training.pianoroll.settings import PianoRollTrainConfig
    from torchmusic.training.recommend.settings import RecommendRecipe
    from torchmusic.training.vocoder.settings import VocoderTrainConfig

    kinds = {
        "embed.yaml": EmbedTrainConfig,
        "folk.yaml": LMTrainConfig,
        "folk-lstm.yaml": LMTrainConfig,
        "jsb.yaml": PianoRollTrainConfig,
        "lastfm.yaml": RecommendRecipe,
    }
    by_prefix = {
        "vocoder-": VocoderTrainConfig,
        "denoise-": DenoiseTrainConfig,
        "gan-": GanTrainConfig,
        "embed-": EmbedTrainConfig,
    }
    kind = next((k for p, k in by_prefix.items() if name.startswith(p)), None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = (kind or kinds.get(name, TrainConfig)).from_yaml(REPO / "configs" / name)
    assert isinstance(cfg, Recipe)


def test_building_a_recipe_imports_no_torch():
    code = (
        "import sys\n"
        "from torchmusic.training.classify.settings import TrainConfig\n"
        "from torchmusic.training.lm.settings import LMTrainConfig\n"
        "from torchmusic.training.embed.settings import EmbedTrainConfig\n"
        "from torchmusic.training.recommend.settings import RecommendRecipe\n"
        "from torchmusic.training.vocoder.settings import VocoderTrainConfig\n"
        "from torchmusic.training.denoise.settings import DenoiseTrainConfig\n"
        "from torchmusic.training.gan.settings import GanTrainConfig\n"
        "TrainConfig(data='x'); LMTrainConfig(); EmbedTrainConfig()\n"
        "VocoderTrainConfig(); DenoiseTrainConfig(); GanTrainConfig(data='x').validate()\n"
        "RecommendRecipe.from_sources(model='als', overrides=['--factors', '8'])\n"
        "print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"
