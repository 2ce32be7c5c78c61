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
import datetime
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, Timer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader
from torchmetrics.aggregation import SumMetric

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.engine import (
    LAST_CKPT,
    Throughput,
    check_run_dir,
    is_global_zero,
    latest_checkpoint,
    quiet_lightning,
    resolve_accelerator,
    resolve_precision,
    write_json,
)
from torchmusic.training.lm_config import LMTrainConfig

MODEL_FILE = "model.safetensors"
TOKEN_CACHE = "tokens.npz"
MONITOR = "val_loss"
IGNORE_INDEX = -100  # == torchmusic.symbolic.IGNORE_INDEX == cross_entropy's default
# Token types that stand for one note each (REMI/TSD/Structured: Pitch; MIDILike: NoteOn).
NOTE_TOKEN_TYPES = ("Pitch_", "NoteOn_")


@dataclasses.dataclass
class LMResult:
    """Outcome of :func:`train_lm`.

    Attributes
    ----------
    model_file : pathlib.Path
        Exported generator file (best checkpoint), for ``torchmusic generate``.
    run_dir : pathlib.Path
        The run folder.
    metrics : dict
        ``val_loss`` and, for token LMs, ``val_/test_nats_per_token`` and
        ``val_/test_nats_per_note``; for the VAE ``val_/test_recon_per_token``,
        ``val_/test_kl``; ``global_step``, ``train_minutes``, ``parameters``, ...
    skipped : list of (str, str)
        MIDI files left out (unreadable, empty, drums only), with the reason.
    """

    model_file: Path
    run_dir: Path
    metrics: dict[str, Any]
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)


# -- data ---------------------------------------------------------------------------------
def note_token_mask(tok: Any, vocab_size: int) -> torch.Tensor:
    """``(vocab_size,)`` bool: which ids stand for one note (Pitch / NoteOn tokens).

    Ids past the tokenizer (condition tokens) are never notes.
    """
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    for token, i in tok.vocab.items():
        if i < vocab_size and str(token).startswith(NOTE_TOKEN_TYPES):
            mask[i] = True
    return mask


def _stack(items: list[torch.Tensor]) -> tuple[torch.Tensor]:
    # A 1-tuple, so the shared Throughput callback counts windows (batch[0].shape[0]).
    return (torch.stack(items),)


def canonical_tokenizer(tok: Any) -> Any:
    """``tok`` rebuilt from its description as a model file stores it (JSON, sorted keys).

    miditok builds some vocabulary parts from its config in dict order (e.g. the
    time signatures of ``time_signature_range``), and model files store the
    description with sorted keys, so the tokenizer rebuilt at generation time can
    number tokens differently from the one given here. Training with the rebuilt
    one makes the ids of training and generation the same by construction.
    """
    from torchmusic.symbolic.tokenize import tokenizer_from_dict, tokenizer_to_dict

    return tokenizer_from_dict(json.loads(json.dumps(tokenizer_to_dict(tok), sort_keys=True)))


def _select(corpus: Any, select: dict[str, list[str]]) -> Any:
    """The pieces of ``corpus`` whose metadata matches every ``column: values`` of ``select``."""
    from torchmusic.symbolic import MidiCorpus

    columns = set(corpus.entries[0]) if corpus.entries else set()
    missing = sorted(set(select) - columns)
    if missing:
        raise DataError(
            f"select: {missing} are not columns of the corpus metadata "
            f"({', '.join(sorted(columns - {'path', 'name', 'split'})) or 'none'})"
        )
    kept = [e for e in corpus.entries if all(str(e[c]) in v for c, v in select.items())]
    if not kept:
        shown = {c: sorted({str(e[c]) for e in corpus.entries}) for c in select}
        raise DataError(f"select={select!r} keeps no piece; values present: {shown}")
    return MidiCorpus(kept, corpus.root)


def load_tokens(cfg: LMTrainConfig, tok: Any, cache: Path, *, progress: bool) -> Any:
    """The tokenised corpus of ``cfg.data``: from ``cache`` when it matches, else tokenised.

    The cache matches when it was made with the same tokenizer settings from the
    same files (the corpus's file list), so an edited corpus is re-tokenised.
    """
    from torchmusic.symbolic import MidiCorpus, TokenizedCorpus, tokenize_corpus
    from torchmusic.symbolic.tokenize import tokenizer_to_dict

    corpus = MidiCorpus.from_folder(cfg.data, seed=cfg.seed)
    if cfg.select:
        corpus = _select(corpus, cfg.select)
    tok_dict = tokenizer_to_dict(tok)
    wanted = sorted(str(p) for p in corpus.paths)
    if cache.is_file():
        try:
            cached = TokenizedCorpus.load(cache)
        except DataError:
            cached = None
        # Compared as text: two descriptions that are equal as dicts but list their
        # keys in another order can number the tokens differently.
        if cached is not None and json.dumps(cached.tokenizer) == json.dumps(tok_dict):
            seen = sorted([m["path"] for m in cached.metadata] + [p for p, _ in cached.failures])
            if seen == wanted:
                # Splits and labels come from the corpus as it is now.
                rows = {e["path"]: e for e in corpus.entries}
                cached.metadata = [rows[m["path"]] for m in cached.metadata]
                return cached
    data = tokenize_corpus(corpus, tok, workers=cfg.tokenize_workers, progress=progress)
    if not data.ids:
        reasons = "; ".join(f"{p}: {r}" for p, r in data.failures[:5])
        raise DataError(f"no MIDI file of {cfg.data!r} could be tokenised ({reasons})")
    if is_global_zero():
        data.save(cache)
    return data


def condition_vocab(cfg: LMTrainConfig, rows: list[dict[str, Any]], offset: int) -> Any:
    """The :class:`~torchmusic.symbolic.ConditionVocab` of ``cfg.conditions`` (None: none).

    Values come from the training pieces (at least ``condition_min_count`` each).
    With transposition, ``key`` also gets every key a training key can be moved to,
    since the transposed windows carry the moved key.
    """
    from torchmusic.symbolic import ConditionVocab
    from torchmusic.symbolic.augment import transpose_key

    if not cfg.conditions:
        return None
    columns = set(rows[0]) if rows else set()
    missing = [c for c in cfg.conditions if c not in columns]
    if missing:
        shown = sorted(columns - {"path", "name", "split"})
        raise DataError(
            f"condition(s) {missing} are not columns of the corpus metadata "
            f"({', '.join(shown) or 'none: a plain MIDI folder has no metadata; build a folk corpus'})"
        )
    vocab = ConditionVocab.from_metadata(
        rows, cfg.conditions, offset, min_count=cfg.condition_min_count
    )
    if "key" in vocab.fields and cfg.transpose:
        keys = set(vocab.fields["key"])
        for key in list(keys):
            for shift in range(-cfg.transpose, cfg.transpose + 1):
                try:
                    keys.add(transpose_key(key, shift))
                except ParameterError:
                    break  # not a key name ("none", "unknown"): stays as it is
        fields = dict(vocab.fields)
        fields["key"] = sorted(keys)
        vocab = ConditionVocab(fields, offset)
    return vocab


class LMData(pl.LightningDataModule):
    """Train/valid/test token windows of a tokenised corpus.

    Parameters
    ----------
    data : TokenizedCorpus
    tokenizer : miditok.MusicTokenizer
    vocab : ConditionVocab or None
    cfg : LMTrainConfig
    """

    def __init__(self, data: Any, tokenizer: Any, vocab: Any, cfg: LMTrainConfig) -> None:
        super().__init__()
        from torchmusic.symbolic import TokenChunks

        # The VAE encodes windows of exactly seq_len ids; the LMs see seq_len inputs
        # plus the shifted target (TokenChunks items have seq_len + 1 ids).
        window = cfg.seq_len - 1 if cfg.model == "vae" else cfg.seq_len
        self.cfg = cfg
        self.parts: dict[str, Any] = {}
        for split in ("train", "valid", "test"):
            part = data.split(split)
            if not len(part):
                continue
            self.parts[split] = TokenChunks(
                part,
                seq_len=window,
                tokenizer=tokenizer,
                condition_vocab=vocab,
                train=split == "train",
                transpose=cfg.transpose,
                condition_dropout=cfg.condition_dropout,
                max_tokens=cfg.max_tokens,
            )
        for split in ("train", "valid"):
            if split not in self.parts:
                raise DataError(
                    f"{cfg.data!r} has no {split} pieces (after skipping unreadable files); "
                    "a MIDI folder is split 80/10/10 by file name: add files, or build a "
                    "corpus with metadata.csv"
                )
        self.pieces = {split: len(part.streams) for split, part in self.parts.items()}
        # Set by train_lm after fitting: the final figures use every validation piece.
        self.full_eval = False

    def _subset(self, split: str) -> Any:
        """The validation windows of ``cfg.val_pieces`` seeded-random pieces (or all)."""
        from torch.utils.data import Subset

        part = self.parts[split]
        n = self.cfg.val_pieces
        if self.full_eval or n is None or n >= len(part.streams):
            return part
        rng = np.random.default_rng(self.cfg.seed)
        chosen = rng.choice(len(part.streams), size=n, replace=False)
        # TokenChunks maps item -> piece in `_piece` (one item per window).
        return Subset(part, np.flatnonzero(np.isin(part._piece, chosen)).tolist())

    @property
    def has_test(self) -> bool:
        return "test" in self.parts

    def _loader(self, split: str) -> DataLoader:
        return DataLoader(
            self._subset(split) if split == "valid" else self.parts[split],
            batch_size=self.cfg.batch_size,
            shuffle=split == "train",
            num_workers=self.cfg.num_workers,
            collate_fn=_stack,
            persistent_workers=self.cfg.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


# -- the Lightning module -----------------------------------------------------------------
class LMModule(pl.LightningModule):
    """Trains a token LM (cross-entropy) or a token VAE (annealed, free-bits ELBO).

    Parameters
    ----------
    model : nn.Module
        ``TransformerLM``, ``LSTMLanguageModel`` or ``MusicVAE``.
    note_mask : torch.Tensor, shape (vocab_size,), bool
        Ids that are notes (for nats per note).
    cfg : LMTrainConfig
        Optimisation and VAE settings (stored in checkpoints as a plain dict).
    pad_id, n_prefix : int
        PAD id and number of condition tokens leading each window (never targets).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        note_mask: torch.Tensor,
        cfg: LMTrainConfig,
        *,
        pad_id: int = 0,
        n_prefix: int = 0,
    ) -> None:
        super().__init__()
        self.model = model
        self.pad_id, self.n_prefix = int(pad_id), int(n_prefix)
        self.is_vae = cfg.model == "vae"
        self.cfg = cfg
        self.register_buffer("note_mask", note_mask, persistent=False)
        # Sums over tokens, synchronised across processes: exact split-level figures.
        self.nll_sum, self.tokens, self.notes = SumMetric(), SumMetric(), SumMetric()
        self.kl_sum, self.sequences = SumMetric(), SumMetric()

    # -- losses -------------------------------------------------------------------------
    def beta(self) -> float:
        """KL weight at the current step: linear ramp from 0 to ``cfg.beta``."""
        if self.cfg.kl_anneal_steps == 0:
            return self.cfg.beta
        return self.cfg.beta * min(1.0, self.global_step / self.cfg.kl_anneal_steps)

    def _lm_nll(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Summed NLL (nats), target count and note count of a batch of windows."""
        ids = batch[0]
        inputs, targets = ids[:, :-1], ids[:, 1:].clone()
        # Same masking as TokenChunks.inputs_targets: PAD and condition tokens.
        targets[targets == self.pad_id] = IGNORE_INDEX
        targets[:, : self.n_prefix] = IGNORE_INDEX
        logits = self.model(inputs)[0]
        nll = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),
            targets.reshape(-1),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        valid = targets != IGNORE_INDEX
        notes = (self.note_mask[targets.clamp(min=0)] & valid).sum()
        return nll, valid.sum(), notes

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.is_vae:
            out = self.model.loss(batch[0], beta=self.beta(), free_bits=self.cfg.free_bits)
            seq = batch[0].shape[1]
            self.log("train_loss", out["loss"] / seq, prog_bar=True)
            self.log("train_recon_per_token", out["recon_per_token"])
            self.log("train_kl", out["kl"])
            self.log("beta", self.beta())
            return out["loss"] / seq  # per token: the learning rate does not depend on seq_len
        nll, n, _ = self._lm_nll(batch)
        loss = nll / n.clamp(min=1)
        self.log("train_loss", loss, prog_bar=True, batch_size=int(n))
        return loss

    def _eval_step(self, batch: Any) -> None:
        if self.is_vae:
            ids = batch[0]
            out = self.model.loss(ids, beta=1.0, free_bits=0.0, sample_z=False)
            b = ids.shape[0]
            self.nll_sum.update(out["recon"] * b)
            self.kl_sum.update(out["kl"] * b)
            self.tokens.update(torch.tensor(float(ids.numel()), device=ids.device))
            self.sequences.update(torch.tensor(float(b), device=ids.device))
            return
        nll, n, notes = self._lm_nll(batch)
        self.nll_sum.update(nll)
        self.tokens.update(n.float())
        self.notes.update(notes.float())

    def _eval_end(self, prefix: str) -> None:
        tokens = self.tokens.compute()
        if tokens > 0:
            nll = self.nll_sum.compute()
            if self.is_vae:
                kl = self.kl_sum.compute()
                seqs = self.sequences.compute().clamp(min=1)
                self.log(f"{prefix}_recon_per_token", nll / tokens)
                self.log(f"{prefix}_kl", kl / seqs)
                # Negative ELBO per token (KL weight 1, no free bits): an upper bound
                # on the NLL, comparable across the annealing schedule.
                self.log(f"{prefix}_loss", (nll + kl) / tokens, prog_bar=True)
            else:
                self.log(f"{prefix}_loss", nll / tokens, prog_bar=True)
                self.log(f"{prefix}_nats_per_token", nll / tokens)
                notes = self.notes.compute()
                if notes > 0:
                    self.log(f"{prefix}_nats_per_note", nll / notes)
        for metric in (self.nll_sum, self.tokens, self.notes, self.kl_sum, self.sequences):
            metric.reset()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_end(self) -> None:
        self._eval_end("val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_test_epoch_end(self) -> None:
        self._eval_end("test")

    # -- optimisation -------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        cfg = self.cfg
        # No weight decay on biases, norms and embeddings (GPT-2 / nanoGPT practice).
        decay = [p for p in self.model.parameters() if p.requires_grad and p.ndim >= 2]
        rest = [p for p in self.model.parameters() if p.requires_grad and p.ndim < 2]
        opt = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": cfg.weight_decay},
                {"params": rest, "weight_decay": 0.0},
            ],
            lr=cfg.lr,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(cfg.warmup_steps, total)
        cosine = cfg.scheduler == "cosine"
        # With a wall-clock budget the run may end long before `total` steps: the
        # cosine then follows whichever is further along, steps or time, so the
        # rate has decayed when the budget runs out (the Timer's elapsed time is
        # restored on resume).
        timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        budget = cfg.max_minutes * 60.0 if cfg.max_minutes and timer is not None else None

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if not cosine:
                return 1.0
            t = (step - warmup) / max(1, total - warmup)
            if budget:
                t = max(t, timer.time_elapsed("train") / budget)
            t = min(1.0, t)
            return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * t))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["torchmusic"] = {"train_config": self.cfg.to_dict()}


class StopAtMaxSteps(Callback):
    """Ask to stop (``trainer.should_stop``) once ``max_steps`` is reached.

    Lightning ends a run at ``max_steps`` without validating when that falls
    mid-epoch; a requested stop is validated first, so the last steps count
    towards the best checkpoint.
    """

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.global_step >= self.max_steps:
            trainer.should_stop = True


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
    cfg = dataclasses.replace(cfg).validate()
    cfg.data = str(Path(cfg.data).expanduser().resolve())
    run_dir = Path(cfg.out_dir or Path("runs") / f"{Path(cfg.data).name}-{cfg.model}").resolve()
    cfg.out_dir = str(run_dir)
    ckpt_path = check_run_dir(cfg, run_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    zero = is_global_zero()

    tok = canonical_tokenizer(build_tokenizer(cfg.tokenizer, **cfg.tokenizer_params))
    cache = Path(cfg.token_cache) if cfg.token_cache else run_dir / TOKEN_CACHE
    data = load_tokens(cfg, tok, cache, progress=progress and zero)
    if zero and data.failures:
        print(f"skipping {len(data.failures)} unusable MIDI file(s):", file=sys.stderr)
        for path, reason in data.failures:
            print(f"  {path}: {reason}", file=sys.stderr)
    vocab = condition_vocab(cfg, data.split("train").metadata, len(tok))
    datamodule = LMData(data, tok, vocab, cfg)
    vocab_size = len(tok) + (vocab.size if vocab is not None else 0)
    model = build_lm(cfg, vocab_size)
    train_part = datamodule.parts["train"]
    module = LMModule(
        model,
        note_token_mask(tok, vocab_size),
        cfg,
        pad_id=train_part.pad_id,
        n_prefix=train_part.n_prefix,
    )
    if zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.to_yaml(run_dir / "config.yaml")

    best = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best-{step:06d}",
        monitor=MONITOR,
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
        save_on_train_epoch_end=False,  # right after each validation, also mid-epoch
    )
    timer = Timer(
        duration=datetime.timedelta(minutes=cfg.max_minutes) if cfg.max_minutes else None,
        interval="step",
    )
    # last.ckpt has checkpoints of its own (see train_classifier); listed after
    # `best` so its saved state already holds the latest best score.
    callbacks: list[Callback] = [best, latest_checkpoint(run_dir)]
    every = cfg.checkpoint_every_n_steps or cfg.val_every_n_steps
    if every:
        callbacks.append(latest_checkpoint(run_dir, every_n_steps=every))
    callbacks += [timer, Throughput()]
    if cfg.max_steps:
        callbacks.append(StopAtMaxSteps(cfg.max_steps))
    if cfg.patience > 0:
        callbacks.append(EarlyStopping(monitor=MONITOR, mode="min", patience=cfg.patience))
    accelerator = resolve_accelerator(cfg.accelerator)
    if accelerator in ("gpu", "cuda"):
        torch.set_float32_matmul_precision("high")
    val_every: dict[str, Any] = {}
    if cfg.val_every_n_steps:
        val_every = {"val_check_interval": cfg.val_every_n_steps, "check_val_every_n_epoch": None}
    with quiet_lightning(verbose=progress):
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=cfg.devices,
            num_nodes=cfg.num_nodes,
            strategy=cfg.strategy,
            precision=resolve_precision(cfg.precision, accelerator),
            max_epochs=cfg.max_epochs,
            max_steps=cfg.max_steps or -1,
            callbacks=callbacks,
            logger=[
                CSVLogger(run_dir, name="csv"),
                TensorBoardLogger(run_dir, name="tensorboard", version="", default_hp_metric=False),
            ],
            default_root_dir=run_dir,
            enable_progress_bar=progress,
            enable_model_summary=progress,
            log_every_n_steps=cfg.log_every_n_steps,
            gradient_clip_val=cfg.grad_clip or None,
            num_sanity_val_steps=0,
            **val_every,
        )
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        except MisconfigurationException as exc:
            raise ParameterError(f"cannot train in {str(run_dir)!r}: {exc}") from exc
        minutes = timer.time_elapsed("train") / 60.0
        return _finish(
            cfg, trainer, module, datamodule, data, tok, vocab, callbacks, run_dir, minutes
        )


def _finish(
    cfg: LMTrainConfig,
    trainer: pl.Trainer,
    module: LMModule,
    datamodule: LMData,
    data: Any,
    tok: Any,
    vocab: Any,
    callbacks: list[Callback],
    run_dir: Path,
    minutes: float,
) -> LMResult:
    """Score the best checkpoint on valid (and test), export it, write the JSON files."""
    best = next(c for c in callbacks if isinstance(c, ModelCheckpoint) and c.monitor == MONITOR)
    best_path = best.best_model_path or str(run_dir / "checkpoints" / LAST_CKPT)
    metrics: dict[str, Any] = {}
    datamodule.full_eval = True
    runs = [trainer.validate]
    if cfg.test_after_fit and datamodule.has_test:
        runs.append(trainer.test)
    for run in runs:
        # validate()/test() load the best weights into `module` on every rank, so
        # the export below writes exactly the evaluated model.
        out = run(
            module, datamodule=datamodule, ckpt_path=best_path, weights_only=True, verbose=False
        )
        metrics.update({k: float(v) for k, v in (out[0] if out else {}).items()})
    metrics.update(
        monitor=MONITOR,
        best_checkpoint=Path(best_path).name,
        epochs_trained=int(trainer.current_epoch),
        global_step=int(trainer.global_step),
        train_minutes=round(minutes, 2),
        parameters=int(sum(p.numel() for p in module.model.parameters())),
        threads=torch.get_num_threads(),
    )
    rates = next(c for c in callbacks if isinstance(c, Throughput)).rates
    if rates:
        window = cfg.seq_len
        metrics["train_tokens_per_s"] = round(sorted(rates)[len(rates) // 2] * window, 1)
    model_file = run_dir / MODEL_FILE
    skipped = [(str(p), str(r)) for p, r in data.failures]
    if trainer.is_global_zero:
        _export(cfg, module, datamodule, data, tok, vocab, model_file, metrics)
        write_json(run_dir / "metrics.json", metrics)
        write_json(run_dir / "data.json", _data_summary(datamodule, data, vocab))
    trainer.strategy.barrier("torchmusic-export")
    return LMResult(model_file=model_file, run_dir=run_dir, metrics=metrics, skipped=skipped)


def tokens_per_bar(data: Any, tok: Any) -> float | None:
    """Mean tokens per bar of the training pieces (None without Bar tokens), used by
    ``torchmusic generate`` to size its token budget for ``--bars``."""
    bar = tok.vocab.get("Bar_None")
    if bar is None:
        return None
    train = data.split("train")
    bars = sum(int(np.count_nonzero(ids == bar)) for ids in train.ids)
    return round(train.n_tokens / bars, 2) if bars else None


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
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float | str)},
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
