"""``train_lm``: MIDI corpus -> token language model (or token VAE) file, through Lightning.

The corpus is tokenised once (miditok, in worker processes; bad files are skipped
and reported) and cut into fixed windows (:class:`~torchmusic.symbolic.TokenChunks`).
Token LMs (``transformer``, ``lstm``) minimise next-token cross-entropy; their
validation and test figures are **nats per token** (the summed negative
log-likelihood of every target token over the number of tokens) and **nats per
note** (the same sum over the number of notes, i.e. of Pitch tokens). The VAE
minimises ``recon + beta * max(KL - free_bits, 0)`` with ``beta`` ramped linearly
from 0 (KL annealing) and reports the negative ELBO per token.

A run folder holds::

    run_dir/
      config.yaml                 the full configuration (checked on resume)
      tokens.npz                  the tokenised corpus (reused on resume)
      data.json                   pieces per split, conditions, skipped files
      checkpoints/last.ckpt       refreshed every epoch / N steps (resume point)
      checkpoints/best-*.ckpt     best validation loss
      csv/version_K/metrics.csv   one CSV per attempt (a resume starts a new one)
      tensorboard/                TensorBoard event files
      metrics.json                valid/test figures of the best checkpoint
      model.safetensors           the generator file (kind "tokens" or "vae")

Multi-GPU and multi-node runs work as for :func:`~torchmusic.training.train_classifier`
(Lightning's DDP; only global rank 0 writes files)::

    torchmusic train lm --config configs/folk.yaml --data folk --devices 4 --strategy ddp
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import torch

from torchmusic.errors import ParameterError
from torchmusic.training.engine import (
    RunResult,
    build_trainer,
    evaluate_best,
    finish_run,
    fit,
    is_global_zero,
    median_throughput,
    plain_metrics,
    start_run,
)
from torchmusic.training.lm.data import (
    TOKEN_CACHE,
    LMData,
    canonical_tokenizer,
    condition_vocab,
    load_tokens,
    note_token_mask,
    tokens_per_bar,
)
from torchmusic.training.lm.module import LMModule
from torchmusic.training.lm.settings import LMTrainConfig

MONITOR = "val_loss"


class LMResult(RunResult):
    """Outcome of :func:`train_lm` (see :class:`RunResult`).

    ``metrics`` holds ``val_loss`` and, for token LMs, ``val_/test_nats_per_token``
    and ``val_/test_nats_per_note``; for the VAE ``val_/test_recon_per_token`` and
    ``val_/test_kl``; ``global_step``, ``train_minutes``, ``parameters``.
    ``skipped`` lists MIDI files left out (unreadable, empty, drums only).
    """


# -- run folder ---------------------------------------------------------------------------
def build_lm(cfg: LMTrainConfig, vocab_size: int) -> torch.nn.Module:
    """The network of ``cfg`` for a vocabulary of ``vocab_size`` ids."""
    from torchmusic.models.symbolic import build_generator

    settings = dict(cfg.model_config)
    if cfg.model == "transformer":
        settings.setdefault("block_size", cfg.seq_len)
        if settings["block_size"] < cfg.seq_len:
            raise ParameterError(
                f"model_config.block_size={settings['block_size']} is shorter than "
                f"seq_len={cfg.seq_len}"
            )
    elif cfg.model == "vae":
        settings.setdefault("seq_len", cfg.seq_len)
        if settings["seq_len"] != cfg.seq_len:
            raise ParameterError(
                f"model_config.seq_len={settings['seq_len']} differs from seq_len={cfg.seq_len}"
            )
    return build_generator(cfg.model, vocab_size=vocab_size, **settings)


# -- the job ------------------------------------------------------------------------------
def train_lm(cfg: LMTrainConfig, *, progress: bool = True) -> LMResult:
    """Train a token language model or token VAE and export the best checkpoint.

    Parameters
    ----------
    cfg : LMTrainConfig
        All settings (see :class:`LMTrainConfig`).
    progress : bool
        Progress bars, the tokenising bar and the model summary.

    Returns
    -------
    LMResult
        ``model_file`` (``run_dir/model.safetensors``), ``run_dir``, ``metrics``,
        ``skipped``.

    Raises
    ------
    ParameterError
        Invalid settings, or ``resume`` with settings that differ from the run's.
    DataError
        No usable MIDI, no train/valid pieces, unknown condition columns, or a run
        folder that already holds a run while ``resume`` is False.

    Notes
    -----
    Evaluation windows tile every piece (see :class:`~torchmusic.symbolic.TokenChunks`):
    each token after BOS (EOS included) is a target exactly once, predicted from
    the tokens before it in its window, so pieces longer than ``seq_len`` are
    scored with a context that restarts at each window. Under DDP the evaluation
    sampler repeats up to ``world_size - 1`` windows to even out the ranks.
    Checkpoints hold tensors and plain values only and are restored with
    ``torch.load(weights_only=True)``.

    Examples
    --------
    >>> cfg = LMTrainConfig.from_sources(config="configs/folk.yaml", data="folk")  # doctest: +SKIP
    >>> train_lm(cfg).metrics["test_nats_per_token"]  # doctest: +SKIP
    1.1
    """
    from torchmusic.symbolic import build_tokenizer

    if not isinstance(cfg, LMTrainConfig):
        raise ParameterError(f"cfg must be an LMTrainConfig, got {type(cfg).__name__}")
    cfg = cfg.validate().with_absolute_paths()
    default_dir = Path("runs") / f"{Path(cfg.data).name}-{cfg.model}"
    run = start_run(cfg, default_dir=default_dir, progress=progress)
    zero = is_global_zero()

    tok = canonical_tokenizer(build_tokenizer(cfg.tokenizer, **cfg.tokenizer_params))
    cache = Path(cfg.token_cache) if cfg.token_cache else run.path / TOKEN_CACHE
    data = load_tokens(cfg, tok, cache, progress=progress and zero)
    if zero and data.failures:
        print(f"skipping {len(data.failures)} unusable MIDI file(s):", file=sys.stderr)
        for path, reason in data.failures:
            print(f"  {path}: {reason}", file=sys.stderr)
    vocab = condition_vocab(cfg, data.split("train").metadata, len(tok))
    datamodule = LMData(data, tok, vocab, cfg)
    vocab_size = len(tok) + (vocab.size if vocab is not None else 0)
    train_part = datamodule.parts["train"]
    module = LMModule(
        build_lm(cfg, vocab_size),
        note_token_mask(tok, vocab_size),
        cfg,
        pad_id=train_part.pad_id,
        n_prefix=train_part.n_prefix,
    )
    val_every: dict[str, Any] = {}
    if cfg.val_every_n_steps:
        val_every = {"val_check_interval": cfg.val_every_n_steps, "check_val_every_n_epoch": None}
        if not cfg.checkpoint_every_n_steps:
            # Mid-epoch validations: refresh last.ckpt as often, so a kill loses little.
            cfg = dataclasses.replace(cfg, checkpoint_every_n_steps=cfg.val_every_n_steps)
    trainer = build_trainer(
        cfg,
        run,
        monitor=MONITOR,
        best_filename="best-{step:06d}",
        best_after_validation=True,  # right after each validation, also mid-epoch
        **val_every,
    )
    fit(trainer, module, run, datamodule=datamodule)
    datamodule.full_eval = True
    metrics = evaluate_best(
        trainer, module, run, datamodule=datamodule, test=cfg.test_after_fit and datamodule.has_test
    )
    metrics.update(
        monitor=MONITOR,
        parameters=int(sum(p.numel() for p in module.model.parameters())),
        threads=torch.get_num_threads(),
    )
    rate = median_throughput(trainer)
    if rate is not None:
        metrics["train_tokens_per_s"] = round(rate * cfg.seq_len, 1)
    finish_run(
        trainer,
        run,
        metrics,
        export=lambda m: _export(cfg, module, datamodule, data, tok, vocab, run.model_file, m),
        files={"data.json": _data_summary(datamodule, data, vocab)},
    )
    skipped = [(str(p), str(r)) for p, r in data.failures]
    return LMResult(model_file=run.model_file, run_dir=run.path, metrics=metrics, skipped=skipped)


def _export(
    cfg: LMTrainConfig,
    module: LMModule,
    datamodule: LMData,
    data: Any,
    tok: Any,
    vocab: Any,
    path: Path,
    metrics: dict[str, Any],
) -> Path:
    from torchmusic.models.symbolic import GeneratorSpec, save_generator
    from torchmusic.symbolic.tokenize import tokenizer_to_dict

    tok_dict = tokenizer_to_dict(tok)
    if canonical_tokenizer(tok).vocab != tok.vocab:  # see canonical_tokenizer
        raise ParameterError(
            "the tokenizer does not survive its model-file description with the same token "
            "ids; train with train_lm's canonical tokenizer"
        )
    model = module.model.to("cpu").float().eval()
    spec = GeneratorSpec(
        architecture=cfg.model,
        model_config={},  # filled from model.config
        tokenizer=tok_dict,
        conditions=vocab.to_dict() if vocab is not None else None,
        kind="vae" if cfg.model == "vae" else "tokens",
        metrics=plain_metrics(metrics),
        extra={
            "train_config": cfg.to_dict(),
            "data": Path(cfg.data).name,
            "pieces": dict(datamodule.pieces),
            "tokens_per_bar": tokens_per_bar(data, tok),
            "seq_len": cfg.seq_len,
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    return save_generator(path, model, spec)


def _data_summary(datamodule: LMData, data: Any, vocab: Any) -> dict[str, Any]:
    return {
        "pieces": dict(datamodule.pieces),
        "tokens": {s: int(data.split(s).n_tokens) for s in datamodule.parts},
        "conditions": vocab.to_dict() if vocab is not None else None,
        "skipped": [{"path": str(p), "reason": str(r)} for p, r in data.failures],
    }
