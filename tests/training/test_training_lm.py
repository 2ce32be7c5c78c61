"""Token LM / VAE training: the loss falls on real tunes, resume, skipped files, settings.

The corpus is a tiny real folk corpus: 5 tunes each of O'Neill's and Aird's
collections from music21's bundled ABC files, built by ``build_folk_corpus``
(resumable, so test files sharing the folder build it once per session).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.lm import LMModule, note_token_mask, train_lm
from torchmusic.training.lm.settings import LMTrainConfig

TINY = {
    "transformer": {"n_layer": 2, "n_head": 2, "n_embd": 32, "dropout": 0.0},
    "lstm": {"n_embd": 32, "hidden": 64, "n_layers": 1, "dropout": 0.0},
    "vae": {"latent": 8, "enc_hidden": 32, "dec_hidden": 64, "n_embd": 32, "dec_layers": 1},
}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def folk_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("music21")
    from torchmusic.symbolic import build_folk_corpus

    out = tmp_path_factory.getbasetemp() / "lm-folk-tiny"
    build_folk_corpus(out, collections="oneills,aird", limit=5, workers=1, progress=False)
    return out


def _config(data: Path, out: Path, model: str = "transformer", **kw) -> LMTrainConfig:
    settings = {
        "data": str(data),
        "model": model,
        "model_config": TINY[model],
        "seq_len": 64,
        "batch_size": 8,
        "max_steps": 4,
        "lr": 3e-3,
        "warmup_steps": 0,
        "scheduler": "none",
        "out_dir": str(out),
        "tokenize_workers": 0,
        "accelerator": "cpu",
        "devices": 1,
        "log_every_n_steps": 1,
        "condition_min_count": 1,
        **kw,
    }
    return LMTrainConfig(**settings)


def _train_losses(run: Path, version: int = 0) -> list[tuple[int, float]]:
    path = run / "csv" / f"version_{version}" / "metrics.csv"
    return [
        (int(r["step"]), float(r["train_loss"]))
        for r in csv.DictReader(path.open())
        if r.get("train_loss")
    ]


@pytest.mark.parametrize("model", ["transformer", "lstm", "vae"])
def test_each_model_learns_real_tunes(tmp_path, folk_tiny, model):
    extra = {"conditions": ["tune_type"]} if model != "vae" else {"kl_anneal_steps": 10}
    cfg = _config(folk_tiny, tmp_path / "run", model, max_steps=30, **extra)
    result = train_lm(cfg, progress=False)

    losses = [loss for _, loss in _train_losses(result.run_dir)]
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    assert result.metrics["global_step"] == 30
    assert result.metrics["val_loss"] > 0 and result.metrics["test_loss"] > 0

    from torchmusic.models.symbolic import load_generator

    loaded, spec = load_generator(result.model_file)
    assert spec.architecture == model
    assert spec.kind == ("vae" if model == "vae" else "tokens")
    assert spec.tokenizer["tokenization"] == "REMI"
    # The tokenizer rebuilt from the model file numbers tokens as training did.
    from torchmusic.symbolic import tokenizer_from_dict
    from torchmusic.symbolic.tokenized import TokenizedCorpus

    trained = TokenizedCorpus.load(result.run_dir / "tokens.npz").tokenizer
    assert tokenizer_from_dict(spec.tokenizer).vocab == tokenizer_from_dict(trained).vocab
    if model == "vae":
        assert spec.conditions is None
    else:
        assert "jig" in spec.conditions["fields"]["tune_type"]
        # A note is several tokens, so the per-note figure is the larger one.
        m = result.metrics
        assert m["test_nats_per_note"] > m["test_nats_per_token"]
        assert loaded.config.vocab_size == spec.conditions["offset"] + sum(
            len(v) + 1 for v in spec.conditions["fields"].values()
        )
    saved = json.loads((result.run_dir / "data.json").read_text())
    assert saved["pieces"]["train"] >= 6 and saved["skipped"] == []


def test_resume_continues_from_the_saved_step(tmp_path, folk_tiny):
    run = tmp_path / "run"
    first = train_lm(_config(folk_tiny, run, max_steps=3), progress=False)
    assert first.metrics["global_step"] == 3
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 3

    second = train_lm(_config(folk_tiny, run, max_steps=6, resume=True), progress=False)
    assert second.metrics["global_step"] == 6  # continued, not restarted
    steps = [s for s, _ in _train_losses(run, version=1)]
    assert steps and min(steps) >= 3  # the resumed attempt only trained steps 4..6

    with pytest.raises(DataError, match=r"already holds a run.*--resume"):
        train_lm(_config(folk_tiny, run, max_steps=6), progress=False)
    with pytest.raises(ParameterError, match=r"cannot resume .*seq_len"):
        train_lm(_config(folk_tiny, run, max_steps=9, seq_len=32, resume=True), progress=False)


def test_bad_midi_in_the_corpus_is_skipped_and_reported(tmp_path, folk_tiny):
    data = tmp_path / "folk"
    shutil.copytree(folk_tiny, data)
    rows = list(csv.DictReader((data / "metadata.csv").open()))
    bad = next(r for r in rows if r["split"] == "train")
    (data / bad["path"]).write_bytes(b"MThd this is not a MIDI file")
    result = train_lm(_config(data, tmp_path / "run", max_steps=1), progress=False)
    assert [Path(p).name for p, _ in result.skipped] == [Path(bad["path"]).name]
    saved = json.loads((result.run_dir / "data.json").read_text())
    assert [Path(s["path"]).name for s in saved["skipped"]] == [Path(bad["path"]).name]
    assert result.model_file.is_file()


def test_conditions_need_metadata_columns(tmp_path, folk_tiny):
    with pytest.raises(DataError, match=r"not columns of the corpus metadata.*tune_type"):
        train_lm(_config(folk_tiny, tmp_path / "run", conditions=["mood"]), progress=False)


def test_note_mask_counts_one_token_per_note():
    from torchmusic.symbolic import build_tokenizer, encode
    from torchmusic.symbolic.midi import notes_to_score

    tok = build_tokenizer()
    score = notes_to_score([0.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [60, 62, 64, 67])
    ids = torch.tensor(encode(score, tok))
    mask = note_token_mask(tok, len(tok) + 3)
    assert int(mask[ids].sum()) == 4
    assert not mask[len(tok) :].any()  # condition ids are never notes


def test_kl_weight_ramps_linearly_from_zero():
    model = torch.nn.Linear(1, 1)
    cfg = LMTrainConfig(data="x", model="vae", beta=0.5, kl_anneal_steps=100)
    module = LMModule(model, torch.zeros(4, dtype=torch.bool), cfg)
    assert module.beta() == 0.0  # step 0, before any trainer
    module_flat = LMModule(
        model,
        torch.zeros(4, dtype=torch.bool),
        LMTrainConfig(data="x", model="vae", beta=0.5, kl_anneal_steps=0),
    )
    assert module_flat.beta() == 0.5


def test_config_sources_and_checks(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: lstm\nseq_len: 128\nconditions: [tune_type]\ndata: corpus\n")
    cfg = LMTrainConfig.from_sources(
        config=recipe, overrides=["--model_config.hidden", "64", "--conditions", "tune_type,key"]
    )
    assert cfg.model == "lstm" and cfg.seq_len == 128
    assert cfg.model_config == {"hidden": 64} and cfg.conditions == ["tune_type", "key"]
    assert cfg.data == str(tmp_path / "corpus")  # relative to the recipe
    with pytest.raises(ParameterError, match=r"did you mean 'seq_len'"):
        LMTrainConfig.from_sources(overrides=["--seq_lenn", "3"])
    with pytest.raises(ParameterError, match=r"VAE is not conditioned"):
        LMTrainConfig(data="x", model="vae", conditions=["tune_type"]).validate()
    with pytest.raises(ParameterError, match=r"not a token model"):
        LMTrainConfig(data="x", model="pianoroll").validate()
    with pytest.raises(ParameterError, match=r"vocab_size is set from the tokenizer"):
        LMTrainConfig(data="x", model_config={"vocab_size": 3}).validate()


def test_default_transformer_is_sized_to_the_data_and_the_budget(monkeypatch):
    from torchmusic.training.lm import job

    smallest, largest_fitting = job.AUTO_SIZES[0], (8, 512)
    cfg = LMTrainConfig(data="x")  # no budget: the data decides
    config, info = job.auto_model_config(cfg, train_tokens=1_000, vocab_size=300)
    assert (config["n_layer"], config["n_embd"]) == smallest[:2]
    config, info = job.auto_model_config(cfg, train_tokens=10_000_000, vocab_size=300)
    assert (config["n_layer"], config["n_embd"]) == largest_fitting
    assert "predicted_steps" not in info

    # With max_minutes, the timed probe of the smallest size decides.
    timed = LMTrainConfig(data="x", max_minutes=1.0, threads=1, accelerator="cpu")
    monkeypatch.setattr(job, "seconds_per_step", lambda *a, **k: 1.0)  # 51 steps: too few
    config, info = job.auto_model_config(timed, train_tokens=10_000_000, vocab_size=300)
    assert (config["n_layer"], config["n_embd"]) == smallest[:2]
    assert info["predicted_steps"]["2x128"] == 51
    monkeypatch.setattr(job, "seconds_per_step", lambda *a, **k: 1e-4)
    config, _ = job.auto_model_config(timed, train_tokens=10_000_000, vocab_size=300)
    assert (config["n_layer"], config["n_embd"]) == largest_fitting


def test_defaults_size_the_model_scale_the_warmup_and_record_both(tmp_path, folk_tiny):
    from torchmusic.models.symbolic import read_generator_spec

    cfg = _config(
        folk_tiny, tmp_path / "run", model_config={}, lr=None, warmup_steps=None,
        scheduler="cosine", seq_len=32, batch_size=4, max_steps=4, max_minutes=5.0,
    )  # fmt: skip
    result = train_lm(cfg, progress=False)
    m = result.metrics
    assert m["model_size"] == "2x128 (auto)" and m["lr"] == 2e-3
    assert m["warmup_steps"] == 1  # 5 % of the run: over by the second of 4 steps
    spec = read_generator_spec(result.model_file)
    assert spec.model_config["n_embd"] == 128
    assert spec.extra["auto_model"]["model_config"]["n_layer"] == 2
    saved = json.loads((result.run_dir / "auto_model.json").read_text())
    assert saved["predicted_steps"] and saved == spec.extra["auto_model"]
    assert json.loads((result.run_dir / "data.json").read_text())["auto_model"] == saved


def test_trailing_padding_is_cut_without_changing_the_loss():
    from torchmusic.models.symbolic import build_generator

    torch.manual_seed(0)
    model = build_generator("transformer", vocab_size=20, **TINY["transformer"], block_size=16)
    module = LMModule(model.eval(), torch.zeros(20, dtype=torch.bool), LMTrainConfig(data="x"))
    ids = torch.randint(1, 20, (3, 17))
    ids[:, 9:] = 0  # PAD in every window after position 8
    ids[0, 9:12] = 5  # one window runs longer
    nll, n, _ = module._lm_nll((ids,))
    targets = ids[:, 1:].clone()
    targets[targets == 0] = -100
    full = torch.nn.functional.cross_entropy(
        model(ids[:, :-1])[0].reshape(-1, 20), targets.reshape(-1), reduction="sum"
    )
    assert int(n) == int((targets != -100).sum())
    assert torch.allclose(nll, full, atol=1e-4)
