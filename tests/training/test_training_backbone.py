"""``model: backbone`` (``train classify --backbone``): a head on an embedding model's encoder.

A tiny contrastive encoder is saved as an embedding model file in each session, so
nothing here depends on a shipped backbone. Frozen (a linear probe): every encoder
weight and BatchNorm statistic stays bit-identical; fine-tuning changes them at
``lr * backbone_lr_scale``. The classifier file carries the encoder and loads and
predicts without the backbone file.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml
from run_helpers import last_checkpoint

from torchmusic.cli.main import main
from torchmusic.errors import DataError, ParameterError
from torchmusic.models import load_classifier
from torchmusic.training import train_classifier

#: conftest.TINY_FEATURE: the features of ``make_config``'s tiny runs.
TINY_FEATURE = {"kind": "logmel", "n_mels": 32, "n_fft": 512, "hop_length": 256}


def _write_backbone(path: Path, *, clip_seconds: float, seed: int = 0) -> Path:
    from torchmusic.features import FeatureConfig
    from torchmusic.models.embed import (
        ContrastiveConfig,
        ContrastiveEncoder,
        EmbeddingModelSpec,
        save_embedding_model,
    )

    feature = FeatureConfig.from_dict(dict(TINY_FEATURE))
    n_frames = feature.clip_frames(clip_seconds)
    torch.manual_seed(seed)
    encoder = ContrastiveEncoder(
        ContrastiveConfig(n_mels=32, n_frames=n_frames, dim=16, proj_dim=8, channels=(4, 8))
    )
    encoder.train()
    with torch.no_grad():  # BatchNorm statistics other than the initial 0 / 1
        encoder(torch.randn(8, 32, n_frames) * 10 - 40)
    spec = EmbeddingModelSpec("contrastive", {}, feature.to_dict(), clip_seconds)
    return save_embedding_model(path, encoder.eval(), spec)


@pytest.fixture(scope="session")
def backbone_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny embedding model file: 32 mels, 1 s windows (the training tests' clip)."""
    return _write_backbone(
        tmp_path_factory.mktemp("backbone") / "tiny.safetensors", clip_seconds=1.0
    )


def _encoder_state(path: Path) -> dict[str, torch.Tensor]:
    from torchmusic.models.embed import load_embedding_model

    net, _ = load_embedding_model(path)
    return {k: v for k, v in net.state_dict().items() if not k.startswith("projection.")}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} changed"


def _probe_config(make_config, data: Path, out: Path, backbone: Path, **settings):
    # No feature or clip settings: they come from the backbone file.
    cfg = make_config(data, out, model="backbone", backbone=str(backbone), **settings)
    cfg.feature = {"kind": "logmel"}
    cfg.clip_seconds = None
    return cfg


# -- the module under Lightning: frozen vs fine-tuned --------------------------------------


def _fit_a_few_steps(model: torch.nn.Module, *, steps: int = 8, lr_scale: float = 0.1):
    # 4 steps per epoch: the second epoch trains after a validation pass (which
    # switches modules to eval mode and back).
    from torchmusic.training.classify.module import ClassifierModule

    module = ClassifierModule(
        model,
        n_classes=2,
        multi_label=False,
        lr=1e-2,
        scheduler="none",
        augment={"mixup": 0.0},
        backbone_lr_scale=lr_scale,
    )
    n_frames = model.config.n_frames
    torch.manual_seed(1)
    x = torch.randn(16, 32, n_frames) * 10 - 30
    y = torch.arange(16) % 2
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1,
    )
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
    return module, trainer


@pytest.mark.filterwarnings("ignore:Found .* module.* in eval mode")
@pytest.mark.parametrize("freeze", [True, False], ids=["frozen", "finetuned"])
def test_a_few_steps_frozen_or_finetuned(backbone_file, freeze):
    from torchmusic.models import backbone_classifier
    from torchmusic.models.embed import load_embedding_model

    encoder, _ = load_embedding_model(backbone_file)
    model = backbone_classifier(encoder, n_classes=2, freeze=freeze)
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    _, trainer = _fit_a_few_steps(model)
    assert trainer.global_step == 8 and trainer.current_epoch == 2
    head_after = model.head.state_dict()
    assert any(not torch.equal(head_after[k], head_before[k]) for k in head_before)
    groups = trainer.optimizers[0].param_groups
    if freeze:
        # Weights and BatchNorm running statistics, bit for bit; and no optimiser state.
        _assert_same(model.encoder.state_dict(), encoder_before)
        assert len(groups) == 1
        assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.head.parameters()}
    else:
        after = model.encoder.state_dict()
        moved = [k for k in encoder_before if not torch.equal(after[k], encoder_before[k])]
        assert "encoder.0.weight" in moved and "encoder.1.running_mean" in moved
        assert "to_embedding.weight" in moved
        assert [g["lr"] for g in groups] == pytest.approx([1e-2, 1e-3])  # backbone_lr_scale 0.1
        assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.encoder.parameters()}


# -- train_classifier: the job -------------------------------------------------------------


def test_linear_probe_job_resumes_and_keeps_the_encoder_bit_identical(
    tmp_path, make_config, speech_music, backbone_file
):
    run = tmp_path / "run"
    first = train_classifier(
        _probe_config(make_config, speech_music, run, backbone_file), progress=False
    )
    steps = first.metrics["global_step"]
    assert steps > 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"] == "backbone" and saved["backbone"] == str(backbone_file)
    assert saved["clip_seconds"] == 1.0
    assert saved["feature"]["n_mels"] == 32 and saved["feature"]["hop_length"] == 256
    ckpt = last_checkpoint(run)  # weights_only=True
    assert "model.encoder.encoder.1.running_var" in ckpt["state_dict"]

    again = _probe_config(make_config, speech_music, run, backbone_file, max_epochs=2, resume=True)
    second = train_classifier(again, progress=False)
    assert second.metrics["global_step"] == 2 * steps

    model, spec = load_classifier(second.model_file)
    assert spec.architecture == "backbone" and spec.labels == ["music", "speech"]
    assert spec.clip_seconds == 1.0 and spec.feature_config().n_mels == 32
    assert spec.model_config["freeze"] is True
    assert spec.extra["backbone"]["source"] == str(backbone_file)
    assert spec.extra["backbone"]["architecture"] == "contrastive"
    _assert_same(model.encoder.state_dict(), _encoder_state(backbone_file))


def test_feature_settings_other_than_the_backbones_are_refused_naming_both(
    tmp_path, make_config, speech_music, backbone_file
):
    cfg = _probe_config(make_config, speech_music, tmp_path / "run", backbone_file)
    cfg.feature = {"kind": "logmel", "n_mels": 64}
    with pytest.raises(ParameterError) as err:
        train_classifier(cfg, progress=False)
    message = str(err.value)
    assert "uses logmel sr=22050 n_fft=512 hop_length=256 n_mels=32" in message, message
    assert "the recipe asks n_mels=64 (backbone: 32)" in message, message
    assert not (tmp_path / "run").exists()  # nothing written

    # The same settings as the backbone's are no conflict.
    same = _probe_config(make_config, speech_music, tmp_path / "same", backbone_file)
    same.feature = dict(TINY_FEATURE)
    from torchmusic.training.classify.backbone import resolve_backbone

    assert resolve_backbone(same.validate()) is not None
    assert same.feature["n_mels"] == 32 and same.clip_seconds == 1.0


def test_a_clip_shorter_than_the_encoders_window_is_refused(
    tmp_path, make_config, speech_music, backbone_file
):
    cfg = _probe_config(make_config, speech_music, tmp_path / "run", backbone_file)
    cfg.clip_seconds = 0.5
    with pytest.raises(
        ParameterError, match=r"clip_seconds=0.5 gives 44 frames, shorter than .* \(87 frames\)"
    ):
        train_classifier(cfg, progress=False)
    assert not (tmp_path / "run").exists()


def test_a_backbone_that_is_no_embedding_model_is_a_data_error(
    tmp_path, make_config, speech_music, backbone_file
):
    from torchmusic.features import FeatureConfig
    from torchmusic.models import ClassifierSpec, build_classifier, save_classifier

    feature = FeatureConfig.from_dict(dict(TINY_FEATURE))
    classifier = build_classifier(
        "simple_cnn", n_mels=32, n_frames=87, n_classes=2, channels=(2,), dense_units=4
    )
    other = save_classifier(
        tmp_path / "classifier.safetensors",
        classifier,
        ClassifierSpec("simple_cnn", {}, ["a", "b"], False, feature.to_dict(), 1.0),
    )
    for bad, match in [
        (other, r"must be an embedding model file.*is an audio classifier model file"),
        (tmp_path / "missing.safetensors", r"backbone .*missing\.safetensors.*neither an existing"),
    ]:
        cfg = _probe_config(make_config, speech_music, tmp_path / "run", bad)
        with pytest.raises(DataError, match=match):
            train_classifier(cfg, progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ParameterError, match="model='backbone' needs a backbone"):
        make_config(speech_music, tmp_path / "r", model="backbone").validate()
    with pytest.raises(ParameterError, match="is for model 'backbone', but model='crnn'"):
        make_config(
            speech_music, tmp_path / "r", model="crnn", backbone=str(backbone_file)
        ).validate()
    with pytest.raises(ParameterError, match=r"unknown model_config setting\(s\) \['width'\]"):
        _probe_config(
            make_config, speech_music, tmp_path / "r", backbone_file, model_config={"width": 4}
        ).validate()
    with pytest.raises(ParameterError, match=r"model_config \['encoder_config'\]"):
        _probe_config(
            make_config, speech_music, tmp_path / "r", backbone_file,
            model_config={"encoder_config": {"dim": 4}},
        ).validate()  # fmt: skip


def test_a_recipe_file_backbone_is_relative_to_the_recipe_and_names_stay_names(tmp_path):
    from torchmusic.training import TrainConfig

    (tmp_path / "recipes").mkdir()
    recipe = tmp_path / "recipes" / "probe.yaml"
    recipe.write_text("model: backbone\nbackbone: ../models/enc.safetensors\n")
    cfg = TrainConfig.from_yaml(recipe)
    assert cfg.backbone == str(tmp_path / "models" / "enc.safetensors")
    recipe.write_text("model: backbone\nbackbone: drums\n")  # a shipped name
    assert TrainConfig.from_yaml(recipe).backbone == "drums"
    assert TrainConfig(backbone="drums").with_absolute_paths().backbone == "drums"


# -- the command line ----------------------------------------------------------------------


def test_cli_backbone_end_to_end_then_predict_without_the_backbone_file(
    tmp_path, capsys, speech_music, feature_cache
):
    # A 2.5 s window on 2 s tracks: every clip is padded to the encoder's window.
    backbone = _write_backbone(tmp_path / "enc.safetensors", clip_seconds=2.5)
    run = tmp_path / "run"
    code = main(
        [
            "train", "classify",
            "--data", str(speech_music),
            "--backbone", str(backbone),
            "--finetune",
            "--out", str(run),
            "--no-progress",
            "--max_epochs", "1",
            "--batch_size", "4",
            "--clips_per_track", "1",
            "--log_every_n_steps", "1",
            "--cache_dir", str(feature_cache),
            "--model_config.hidden", "8",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"model file: {run / 'model.safetensors'}" in captured.out
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"] == "backbone" and saved["clip_seconds"] == 2.5
    assert saved["model_config"] == {"freeze": False, "hidden": 8}
    model, spec = load_classifier(run / "model.safetensors")
    assert model.config.n_frames == 216 and model.config.hidden == 8
    assert spec.model_config["freeze"] is False

    backbone.unlink()  # the classifier file is self-contained
    track = next((speech_music / "music").iterdir())
    out = tmp_path / "predictions.json"
    code = main(
        ["predict", "--model", str(run / "model.safetensors"), str(track), "--format", "json",
         "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert track.name in out.read_text()


@pytest.mark.parametrize(
    "extra,message",
    [
        (
            ["--arch", "crnn", "--backbone", "{backbone}"],
            "is for model 'backbone', but model='crnn'",
        ),
        (["--finetune"], "--finetune is for a classifier on a backbone"),
        (["--backbone", "{backbone}", "--feature.n_mels", "64"], "the recipe asks n_mels=64"),
        (["--backbone", "{classifier}"], "must be an embedding model file"),
    ],
)
def test_cli_backbone_errors_exit_1_and_write_nothing(
    tmp_path, capsys, speech_music, backbone_file, extra, message
):
    classifier = Path(__file__).resolve().parents[1] / "fixtures" / "modelfiles"
    classifier = classifier / "classifier.safetensors"
    args = [a.format(backbone=backbone_file, classifier=classifier) for a in extra]
    run = tmp_path / "run"
    code = main(["train", "classify", "--data", str(speech_music), "--out", str(run), *args])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not run.exists()


def test_cli_freeze_and_finetune_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "classify", "--data", "d", "--backbone", "b", "--freeze", "--finetune"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
