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
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from torchmusic.errors import ParameterError
from torchmusic.training.engine import (
    RunFolder,
    RunResult,
    build_trainer,
    evaluate_best,
    finish_run,
    fit,
    is_global_zero,
    median_throughput,
    plain_metrics,
    resolve_accelerator,
    start_run,
    sync,
    write_json,
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
AUTO_MODEL_FILE = "auto_model.json"

#: Sizes the default Transformer is chosen from, ``(n_layer, n_embd, n_head)``,
#: smallest first (head size 32 up to 256 wide, then 64).
AUTO_SIZES: tuple[tuple[int, int, int], ...] = (
    (2, 128, 4),
    (3, 192, 6),
    (4, 256, 8),
    (6, 384, 6),
    (8, 512, 8),
    (12, 768, 12),
)
#: At most this many weights in the Transformer blocks per training token.
AUTO_WEIGHTS_PER_TOKEN = 4.0
#: The time budget must allow at least this many optimiser steps of the chosen size.
AUTO_MIN_STEPS = 500
#: Share of the time budget assumed to go to training steps (the rest: validation).
AUTO_TRAIN_SHARE = 0.85
AUTO_DROPOUT = 0.1
TRANSFORMER_DEFAULT_WIDTH = 256  # TransformerConfig.n_embd


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


# -- the default model, sized to the data and the compute --------------------------------
def block_weights(n_layer: int, n_embd: int) -> int:
    """Weights of ``n_layer`` Transformer blocks ``n_embd`` wide (attention + 4x MLP)."""
    return 12 * n_layer * n_embd * n_embd


def flops_per_token(n_layer: int, n_embd: int, vocab_size: int, seq_len: int) -> float:
    """Training FLOPs per token position: 3 x (2 per weight + attention), output layer included."""
    forward = 2.0 * (block_weights(n_layer, n_embd) + vocab_size * n_embd)
    forward += 4.0 * n_layer * seq_len * n_embd  # scores and weighted sum
    return 3.0 * forward


def seconds_per_step(
    model_config: dict[str, Any],
    *,
    vocab_size: int,
    batch_size: int,
    seq_len: int,
    steps: int = 3,
    device: str | torch.device = "cpu",
) -> float:
    """Wall time of one training step (forward, backward, AdamW) of a Transformer.

    Random windows of ``batch_size x seq_len`` tokens; one warm-up step, then the
    mean of ``steps``. The global random state is left as it was.
    """
    import torch.nn.functional as F

    from torchmusic.models.symbolic import build_generator

    device = torch.device(device)
    forked = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        model = build_generator(
            "transformer", vocab_size=vocab_size, block_size=seq_len, **model_config
        ).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        x = torch.randint(vocab_size, (batch_size, seq_len + 1), device=device)

        def step() -> None:
            logits = model(x[:, :-1])[0]
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        step()
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        return (time.perf_counter() - t0) / steps


def _single_process(cfg: LMTrainConfig) -> bool:
    """Whether the run trains in one process (no DDP): only then is a timing probe safe."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or cfg.num_nodes > 1:
        return False
    devices = cfg.devices
    if isinstance(devices, list):
        return len(devices) <= 1
    if resolve_accelerator(cfg.accelerator) in ("gpu", "cuda"):
        if devices in ("auto", -1, "-1"):
            return torch.cuda.device_count() <= 1
    elif devices == "auto":
        return True
    text = str(devices).strip()
    if "," in text:
        return len([d for d in text.split(",") if d.strip()]) <= 1
    return text.isdigit() and int(text) <= 1


def auto_model_config(
    cfg: LMTrainConfig, *, train_tokens: int, vocab_size: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The default Transformer's size for ``cfg``'s data and time budget, and why.

    The largest of :data:`AUTO_SIZES` such that

    - its blocks hold at most :data:`AUTO_WEIGHTS_PER_TOKEN` weights per training
      token (small corpora get small models), and
    - with ``max_minutes``, the budget allows at least :data:`AUTO_MIN_STEPS`
      optimiser steps of ``batch_size x seq_len`` tokens: the smallest size is
      timed for a few steps on the run's device and the others are predicted
      from it by their FLOPs per token (:func:`flops_per_token`). Without a
      budget (or under DDP, where each process would time its own probe), only
      the data decides.

    The smallest size is used when none qualifies. On CPU with ``threads`` unset,
    the probe also times one thread against torch's default and keeps the faster
    (``torch.set_num_threads``). Returns the ``model_config`` and a record of the
    choice (stored in the model file, ``data.json`` and ``auto_model.json``).
    """
    cap = AUTO_WEIGHTS_PER_TOKEN * train_tokens
    fits = [s for s in AUTO_SIZES if block_weights(s[0], s[1]) <= cap] or [AUTO_SIZES[0]]
    info: dict[str, Any] = {
        "rule": f"largest of {len(AUTO_SIZES)} sizes with <= {AUTO_WEIGHTS_PER_TOKEN:g} block "
        f"weights per training token and >= {AUTO_MIN_STEPS} steps in max_minutes",
        "train_tokens": int(train_tokens),
        "weights_cap": int(cap),
    }
    chosen = fits[-1]
    budget = cfg.max_minutes * 60.0 if cfg.max_minutes else None
    single = _single_process(cfg)
    accel = resolve_accelerator(cfg.accelerator)
    device = "cuda" if accel in ("gpu", "cuda") and torch.cuda.is_available() else "cpu"
    base = fits[0]

    def probe(steps: int = 3) -> float:
        return seconds_per_step(
            _size_config(base),
            vocab_size=vocab_size,
            batch_size=cfg.batch_size,
            seq_len=cfg.seq_len,
            steps=steps,
            device=device,
        )

    timed: float | None = None
    threads = torch.get_num_threads()
    if device == "cpu" and single and cfg.threads is None and threads > 1:
        # On a small or busy CPU one thread often trains faster than several
        # (threads wait on each other): time both, keep the faster.
        times = {}
        for n in (threads, 1):
            torch.set_num_threads(n)
            times[n] = probe(steps=2)
        best = min(times, key=times.__getitem__)
        torch.set_num_threads(best)
        timed = times[best]
        info["threads"] = best
        info["probe_threads_seconds_per_step"] = {str(k): round(v, 4) for k, v in times.items()}
    if budget and single:
        timed = probe() if timed is None else timed
        base_flops = flops_per_token(base[0], base[1], vocab_size, cfg.seq_len)
        predicted = {}
        chosen = base
        for size in fits:
            ratio = flops_per_token(size[0], size[1], vocab_size, cfg.seq_len) / base_flops
            steps = int(AUTO_TRAIN_SHARE * budget / (timed * ratio))
            predicted[f"{size[0]}x{size[1]}"] = steps
            if steps >= AUTO_MIN_STEPS:
                chosen = size
        info.update(
            probe_device=device,
            probe_seconds_per_step=round(timed, 4),
            predicted_steps=predicted,
        )
    elif budget:
        info["note"] = "several processes: sized by the data only"
    config = _size_config(chosen)
    info["model_config"] = config
    return config, info


def _size_config(size: tuple[int, int, int]) -> dict[str, Any]:
    n_layer, n_embd, n_head = size
    return {"n_layer": n_layer, "n_embd": n_embd, "n_head": n_head, "dropout": AUTO_DROPOUT}


def _resolve_model(
    cfg: LMTrainConfig, run: RunFolder, *, train_tokens: int, vocab_size: int, say: bool
) -> tuple[LMTrainConfig, dict[str, Any] | None]:
    """``cfg`` with the default Transformer sized (when no ``model_config`` is given).

    A resumed run reuses the size it chose (``auto_model.json``); a run resumed
    from before auto-sizing existed keeps the architecture's own defaults.
    """
    if cfg.model != "transformer" or cfg.model_config:
        return cfg, None
    record = run.path / AUTO_MODEL_FILE
    if run.resume_from is not None:
        if not record.is_file():
            return cfg, None
        info = json.loads(record.read_text(encoding="utf-8"))
        if cfg.threads is None and info.get("threads"):
            torch.set_num_threads(int(info["threads"]))
    else:
        _, info = auto_model_config(cfg, train_tokens=train_tokens, vocab_size=vocab_size)
        if is_global_zero():
            write_json(record, info)
    config = dict(info["model_config"])
    if say:
        c = config
        weights = block_weights(c["n_layer"], c["n_embd"]) + vocab_size * c["n_embd"]
        steps = info.get("predicted_steps", {}).get(f"{c['n_layer']}x{c['n_embd']}")
        print(
            f"model: Transformer {c['n_layer']} x {c['n_embd']} ({weights / 1e6:.2f} M weights), "
            f"sized to {train_tokens} training tokens"
            + (f" and ~{steps} steps in {cfg.max_minutes:g} min" if steps else "")
            + " (set model_config to choose)",
            file=sys.stderr,
        )
    return dataclasses.replace(cfg, model_config=config), info


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
    data = _tokenised_corpus(cfg, tok, run, zero=zero)
    vocab = condition_vocab(cfg, data.split("train").metadata, len(tok))
    datamodule = LMData(data, tok, vocab, cfg)
    vocab_size = len(tok) + (vocab.size if vocab is not None else 0)
    train_part = datamodule.parts["train"]
    cfg, auto_info = _resolve_model(
        cfg,
        run,
        train_tokens=int(data.split("train").n_tokens),
        vocab_size=vocab_size,
        say=zero,
    )
    if cfg.lr is None:
        width = None
        if cfg.model == "transformer":
            width = int(cfg.model_config.get("n_embd", TRANSFORMER_DEFAULT_WIDTH))
        cfg = dataclasses.replace(cfg, lr=cfg.resolved_lr(width))
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
    metrics.update(_run_figures(cfg, trainer, module, auto=auto_info is not None))
    summary = _data_summary(datamodule, data, vocab)
    if auto_info is not None:
        summary["auto_model"] = auto_info
    finish_run(
        trainer,
        run,
        metrics,
        export=lambda m: _export(
            cfg, module, datamodule, data, tok, vocab, run.model_file, m, auto_info
        ),
        files={"data.json": summary},
    )
    skipped = [(str(p), str(r)) for p, r in data.failures]
    return LMResult(model_file=run.model_file, run_dir=run.path, metrics=metrics, skipped=skipped)


def _tokenised_corpus(cfg: LMTrainConfig, tok: Any, run: Any, *, zero: bool) -> Any:
    """The corpus tokenised (or read from the token cache); unusable files listed."""
    cache = Path(cfg.token_cache) if cfg.token_cache else run.path / TOKEN_CACHE
    data = load_tokens(cfg, tok, cache, progress=run.progress and zero)
    if zero and data.failures:
        print(f"skipping {len(data.failures)} unusable MIDI file(s):", file=sys.stderr)
        for path, reason in data.failures:
            print(f"  {path}: {reason}", file=sys.stderr)
    return data


def _run_figures(cfg: LMTrainConfig, trainer: Any, module: LMModule, *, auto: bool) -> dict:
    """Size, learning rate, warm-up and speed of the run, for ``metrics.json``."""
    metrics: dict[str, Any] = dict(
        monitor=MONITOR,
        parameters=int(sum(p.numel() for p in module.model.parameters())),
        threads=torch.get_num_threads(),
    )
    if cfg.model == "transformer":
        c = module.model.config
        metrics["model_size"] = f"{c.n_layer}x{c.n_embd}" + (" (auto)" if auto else "")
    metrics["lr"] = cfg.lr
    if module.warmup_steps_taken is not None:
        metrics["warmup_steps"] = module.warmup_steps_taken
    rate = median_throughput(trainer)
    if rate is not None:
        # Window positions (padding included) and the tokens actually learned from.
        metrics["train_positions_per_s"] = round(rate * cfg.seq_len, 1)
        if module.train_windows:
            per_window = module.train_targets / module.train_windows
            metrics["train_tokens_per_s"] = round(rate * per_window, 1)
    return metrics


def _export(
    cfg: LMTrainConfig,
    module: LMModule,
    datamodule: LMData,
    data: Any,
    tok: Any,
    vocab: Any,
    path: Path,
    metrics: dict[str, Any],
    auto_info: dict[str, Any] | None = None,
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
            **({"auto_model": auto_info} if auto_info is not None else {}),
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
