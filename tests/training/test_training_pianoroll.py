"""Piano-roll training: loss falls, run folder, best checkpoint, export, resume, settings."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.pianoroll import (
    LengthBatches,
    PianoRollModule,
    PianoRollTrainConfig,
    random_transpose,
    train_pianoroll,
)

TINY_MODEL = {"time_hidden": 4, "frame_hidden": 8, "frame_proj": 4, "note_hidden": 8, "window": 2}


@pytest.fixture(scope="module")
def tiny_jsb(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few real chorales, cut to 12 frames, in the JSB JSON layout."""
    full = json.loads((shared_data / "jsb_chorales" / "jsb-chorales-quarter.json").read_text())
    small = {"train": full["train"][:6], "valid": full["valid"][:2], "test": full["test"][:2]}
    small = {k: [piece[:12] for piece in v] for k, v in small.items()}
    path = tmp_path_factory.mktemp("jsb") / "jsb-tiny.json"
    path.write_text(json.dumps(small))
    return path


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_a_few_steps_make_the_loss_fall(tiny_jsb: Path) -> None:
    from torchmusic.models.symbolic.pianoroll import PianoRollConfig, PianoRollModel, to_roll_batch
    from torchmusic.symbolic import load_jsb

    torch.manual_seed(0)
    model = PianoRollModel(PianoRollConfig(**TINY_MODEL, dropout=0.0))
    module = PianoRollModule(model, lr=1e-2)
    opt = module.configure_optimizers()["optimizer"]
    batch = to_roll_batch(load_jsb(tiny_jsb)["train"])
    losses = []
    for step in range(15):
        loss = module.training_step(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_train_export_and_resume(tiny_jsb: Path, tmp_path: Path) -> None:
    from torchmusic.models.symbolic import load_generator
    from torchmusic.symbolic import load_jsb
    from torchmusic.symbolic.likelihood import frame_nll

    out = tmp_path / "run"
    cfg = PianoRollTrainConfig(
        data=str(tiny_jsb),
        model_config=dict(TINY_MODEL),
        batch_size=3,
        max_epochs=2,
        lr=5e-3,
        out_dir=str(out),
        log_every_n_steps=1,
        transpose=2,
    )
    t0 = time.monotonic()
    result = train_pianoroll(cfg, progress=False)
    wall_minutes = (time.monotonic() - t0) / 60.0
    m = result.metrics
    # Training time, not inflated by the evaluation's checkpoint load (which restores
    # the Timer's state): at most the whole call's wall time.
    assert 0 <= m["train_minutes"] <= wall_minutes + 0.01
    assert result.model_file == out / "model.safetensors"
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert m["best_checkpoint"].startswith("best-")
    assert m["epochs_trained"] == 2 and m["global_step"] == 4
    assert 0 < m["val_nll"] < 88 * np.log(2) and 0 < m["test_nll"] < 88 * np.log(2)
    assert json.loads((out / "metrics.json").read_text())["test_nll"] == m["test_nll"]
    assert list(out.glob("csv/version_0/metrics.csv"))
    # The exported file is the evaluated best checkpoint: same test NLL.
    model, spec = load_generator(result.model_file, kind="pianoroll")
    assert spec.model_config["frame_hidden"] == TINY_MODEL["frame_hidden"]
    test = load_jsb(tiny_jsb)["test"]
    assert frame_nll(model, test) == pytest.approx(m["test_nll"], rel=1e-4)

    # The same folder again is refused without resume; resume continues the steps.
    with pytest.raises(DataError, match="--resume"):
        train_pianoroll(cfg, progress=False)
    cfg.resume, cfg.max_epochs = True, 3
    resumed = train_pianoroll(cfg, progress=False)
    assert resumed.metrics["epochs_trained"] == 3 and resumed.metrics["global_step"] == 6
    cfg.seed = 1
    with pytest.raises(ParameterError, match="seed"):
        train_pianoroll(cfg, progress=False)


def test_settings_from_recipe_and_overrides(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: jsb.json\nbatch_size: 4\nmodel_config: {note_hidden: 32}\n")
    cfg = PianoRollTrainConfig.from_sources(
        config=recipe, overrides=["--model_config.window", "6", "--lr=0.01"]
    )
    assert cfg.data == str(tmp_path / "jsb.json")  # relative to the recipe
    assert cfg.model_config == {"note_hidden": 32, "window": 6}
    assert (cfg.batch_size, cfg.lr) == (4, 0.01)
    with pytest.raises(ParameterError, match="did you mean 'batch_size'"):
        PianoRollTrainConfig.from_sources(overrides=["--batch_sise", "3"])
    with pytest.raises(ParameterError, match="unknown model_config"):
        PianoRollTrainConfig(data="x.json", model_config={"hiden": 3}).validate()
    with pytest.raises(ParameterError, match="scheduler"):
        PianoRollTrainConfig(data="x.json", scheduler="step").validate()


def test_the_shipped_recipe_is_valid() -> None:
    recipe = Path(__file__).resolve().parents[2] / "configs" / "jsb.yaml"
    cfg = PianoRollTrainConfig.from_yaml(recipe).validate()
    assert cfg.data.endswith("jsb-chorales-quarter.json")
    assert cfg.max_minutes is not None and cfg.max_minutes <= 30


def test_length_batches_cover_each_piece_once_and_shard() -> None:
    lengths = [5, 40, 7, 33, 12, 9, 60, 3, 25, 18]
    sampler = LengthBatches(lengths, 3, shuffle=True, seed=0)
    sampler.set_epoch(1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(10))
    sampler.set_epoch(2)
    assert list(sampler) != batches  # a new order every epoch
    ranks = [list(LengthBatches(lengths, 3, shuffle=True, rank=r, world=3)) for r in range(3)]
    assert len({len(r) for r in ranks}) == 1  # equal steps on every rank
    evaluation = list(LengthBatches(lengths, 4, shuffle=False))
    assert [lengths[i] for b in evaluation for i in b] == sorted(lengths)


def test_random_transpose_keeps_notes_on_the_keyboard() -> None:
    torch.manual_seed(0)
    roll = torch.zeros(3, 4, 88)
    roll[0, :, [0, 4]] = 1  # already at the bottom: can only go up
    roll[1, :2, [80, 87]] = 1  # at the top, and 2 padding frames
    shifted = random_transpose(roll, torch.tensor([4, 2, 4]), 5)
    assert torch.equal(shifted.sum((1, 2)), roll.sum((1, 2)))  # no note lost
    assert torch.equal(shifted[2], roll[2])  # an empty piece stays empty
    assert (shifted[1, 2:] == 0).all()
    lowest = shifted[0].amax(0).nonzero().min()
    assert 0 <= int(lowest) <= 5
