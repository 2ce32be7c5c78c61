"""TrainConfig: YAML recipes, --key value overrides, type checks and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.classify.settings import DEFAULT_AUGMENT, MODEL_DEFAULTS
from torchmusic.training.config import AUGMENT_DEFAULTS, TrainConfig

REPO = Path(__file__).resolve().parents[2]


def test_overrides_parse_types_and_dotted_keys():
    cfg = TrainConfig()
    cfg.apply_overrides(
        [
            "--max-epochs", "5",
            "--lr=0.01",
            "--augment.mixup", "0.2",
            "--feature.n_mels", "64",
            "--model_config.dropout", "0.3",
            "--split_lists.train", "train.txt",
            "--devices", "[0, 1]",
            "--multi_label", "null",
            "--deterministic",
            "--test_after_fit", "false",
        ]
    )  # fmt: skip
    assert cfg.max_epochs == 5 and isinstance(cfg.max_epochs, int)
    assert cfg.lr == 0.01
    # Dotted overrides change one key of the defaults.
    assert cfg.augment == {**DEFAULT_AUGMENT, "mixup": 0.2}
    assert cfg.feature == {"kind": "logmel", "n_mels": 64}
    assert cfg.model_config == {**MODEL_DEFAULTS["shortchunk"], "dropout": 0.3}
    assert cfg.split_lists == {"train": "train.txt"}
    assert cfg.devices == [0, 1]
    assert cfg.multi_label is None
    assert cfg.deterministic is True and cfg.test_after_fit is False


def test_default_recipe_and_what_a_given_mapping_means():
    # No model_config: the architecture's CPU-sized defaults, resolved by validate().
    for model, defaults in MODEL_DEFAULTS.items():
        backbone = "enc.safetensors" if model == "backbone" else None  # (read when training)
        cfg = TrainConfig(data="x", model=model, backbone=backbone)
        assert cfg.validate().model_config == defaults
    # model_config: {} is the architecture's own class defaults.
    assert TrainConfig(data="x", model_config={}).validate().model_config == {}
    cfg = TrainConfig(data="x")
    assert cfg.augment == DEFAULT_AUGMENT and cfg.clips_per_track == 4
    # A given augment mapping replaces the default: what it leaves out is off.
    cfg = TrainConfig.from_dict({"augment": {"mixup": 0.1}})
    assert cfg.augment == {**AUGMENT_DEFAULTS, "mixup": 0.1}


def test_int_widens_to_float_and_numbers_to_text():
    cfg = TrainConfig(lr=1, label_column=123)  # YAML may give 1 for 1.0, 123 for a name
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.label_column == "123"


@pytest.mark.parametrize(
    "tokens,match",
    [
        (["--max_epoch", "3"], "did you mean 'max_epochs'"),
        (["--augment.mixupp", "0.1"], "did you mean 'mixup'"),
        (["--lr.x", "1"], "not a mapping"),
        (["--max_epochs", "many"], "max_epochs='many' has the wrong type; expected int"),
        (["--batch_size", "2.5"], "batch_size=2.5 has the wrong type"),
        (["--resume", "maybe"], "resume='maybe' has the wrong type; expected bool"),
        (["--model", "null"], "model must not be null"),
        (["--augment.gain_db", "loud"], "augment.gain_db='loud' has the wrong type"),
        (["max_epochs", "3"], "unexpected argument 'max_epochs'"),
    ],
)
def test_bad_overrides_are_clear_errors(tokens, match):
    with pytest.raises(ParameterError, match=match):
        TrainConfig().apply_overrides(tokens)


@pytest.mark.parametrize(
    "settings,match",
    [
        ({"model": "resnet50"}, "model='resnet50' is not an architecture"),
        ({"batch_size": 0}, "batch_size=0 must be a positive integer"),
        ({"clip_seconds": 0.0}, "clip_seconds=0.0 must be > 0"),
        ({"scheduler": "step"}, "scheduler='step'"),
        ({"augment": {"time_mask": 1.5}}, "augment.time_mask=1.5 is a fraction"),
        ({"augment": {"mixup": -1}}, "augment.mixup=-1.0 must be >= 0"),
        ({"augment": {"freq_shift": 1.0}}, "augment.freq_shift=1.0 is a fraction"),
        ({"augment": {"eq_db": -2}}, "augment.eq_db=-2.0 must be >= 0"),
        ({"split_fractions": {"train": 0.5, "valid": 0.2}}, "sum to 1"),
        ({"feature": {"kind": "logmel", "n_mel": 64}}, "unknown feature setting"),
        ({"feature": {"kind": "logmel", "n_mels": 5000}}, "n_mels=5000"),
        ({"patience": -1}, "patience=-1"),
    ],
)
def test_validate_rejects_bad_values(settings, match):
    cfg = TrainConfig(data="somewhere", **settings)
    with pytest.raises(ParameterError, match=match):
        cfg.validate()


def test_validate_needs_data():
    with pytest.raises(ParameterError, match="--data"):
        TrainConfig().validate()


def test_unknown_key_in_constructor_dict_is_an_error():
    with pytest.raises(ParameterError, match="unknown setting 'epochs'"):
        TrainConfig.from_dict({"epochs": 3})
    with pytest.raises(ParameterError, match="unknown augmentation"):
        TrainConfig(augment={"cutout": 0.1})


def test_yaml_recipe_paths_resolve_against_the_recipe(tmp_path, monkeypatch):
    recipe = tmp_path / "recipes" / "r.yaml"
    recipe.parent.mkdir()
    recipe.write_text(
        "model: crnn\ndata: ../data/manifest.csv\nsplit_lists: {train: lists/train.txt}\n"
        "augment: {mixup: 0.4}\n"
    )
    monkeypatch.chdir(REPO)  # the working directory must not matter
    cfg = TrainConfig.from_yaml(recipe)
    assert cfg.model == "crnn"
    assert cfg.data == str(tmp_path / "data" / "manifest.csv")
    assert cfg.split_lists == {"train": str(tmp_path / "recipes" / "lists" / "train.txt")}
    assert cfg.augment["mixup"] == 0.4 and cfg.augment["gain_db"] == 0.0


def test_from_sources_precedence(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: crnn\nmax_epochs: 7\nbatch_size: 8\n")
    cfg = TrainConfig.from_sources(
        config=recipe,
        overrides=["--batch_size", "16"],
        model="simple_cnn",  # a flag beats the recipe
        max_epochs=None,  # an unset flag leaves the recipe's value
    )
    assert (cfg.model, cfg.max_epochs, cfg.batch_size) == ("simple_cnn", 7, 16)


@pytest.mark.parametrize(
    "text,match",
    [("[1, 2]\n", "must hold a mapping"), ("model: [unclosed\n", "not valid YAML")],
)
def test_bad_yaml_files(tmp_path, text, match):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    with pytest.raises(DataError, match=match):
        TrainConfig.from_yaml(recipe)


def test_missing_yaml_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        TrainConfig.from_yaml(tmp_path / "nope.yaml")


def test_yaml_round_trip_is_plain_data(tmp_path):
    cfg = TrainConfig(data="d", model="crnn", augment={"mixup": 0.3}, devices=[0, 1])
    path = cfg.to_yaml(tmp_path / "config.yaml")
    again = TrainConfig.from_yaml(path)
    assert again.data == str(tmp_path / "d")  # relative: against the file's folder
    again.data = "d"
    assert again == cfg
    json.dumps(cfg.to_dict())  # JSON-able: checkpoints store it as a plain dict


@pytest.mark.parametrize("name", ["demo", "gtzan", "drums"])
def test_shipped_recipes_load_and_validate(name):
    cfg = TrainConfig.from_yaml(REPO / "configs" / f"{name}.yaml")
    cfg.data = "given-on-the-command-line"
    cfg.validate()
    assert cfg.model in ("simple_cnn", "crnn", "shortchunk")
    if name == "gtzan":
        assert set(cfg.split_lists) == {"train", "valid", "test"}
    if name == "drums":
        assert cfg.group_column == "kit"


def test_building_a_config_imports_neither_torch_nor_lightning():
    code = (
        "import sys, json\n"
        "from torchmusic.training import TrainConfig\n"
        "TrainConfig.from_sources(overrides=['--max_epochs', '2']).feature\n"
        "print(json.dumps([m for m in ('torch', 'lightning') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
