"""The LightningModule of token-LM training: cross-entropy LMs and the annealed-ELBO VAE."""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Timer
from torchmetrics.aggregation import SumMetric

from torchmusic.training.lm.settings import LMTrainConfig

IGNORE_INDEX = -100  # == torchmusic.symbolic.IGNORE_INDEX == cross_entropy's default
#: With ``warmup_steps: null``, the warm-up's share of the run (of its steps, or of
#: the ``max_minutes`` budget, whichever is further along).
WARMUP_SHARE = 0.05


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
        # Training windows and target tokens seen (this process): tokens per window.
        self.train_windows, self.train_targets = 0, 0
        #: Steps the warm-up took (set when it ends; None while it lasts or if none).
        self.warmup_steps_taken: int | None = None

    # -- losses -------------------------------------------------------------------------
    def beta(self) -> float:
        """KL weight at the current step: linear ramp from 0 to ``cfg.beta``."""
        if self.cfg.kl_anneal_steps == 0:
            return self.cfg.beta
        return self.cfg.beta * min(1.0, self.global_step / self.cfg.kl_anneal_steps)

    def _lm_nll(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Summed NLL (nats), target count and note count of a batch of windows."""
        ids = batch[0]
        # Positions that are padding in every window predict nothing: cut them off
        # (exact, as the models are causal; short pieces in a long seq_len are cheaper).
        filled = (ids != self.pad_id).any(dim=0).nonzero()
        if filled.numel():
            ids = ids[:, : max(int(filled[-1]) + 1, 2)]
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
        self.train_windows += int(batch[0].shape[0])
        self.train_targets += int(n)
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
        cosine = cfg.scheduler == "cosine"
        # With a wall-clock budget the run may end long before `total` steps: the
        # cosine then follows whichever is further along, steps or time, so the
        # rate has decayed when the budget runs out (the Timer's elapsed time is
        # restored on resume).
        timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        budget = cfg.max_minutes * 60.0 if cfg.max_minutes and timer is not None else None

        def progress(step: int) -> float:
            t = step / total
            if budget:
                t = max(t, timer.time_elapsed("train") / budget)
            return min(1.0, t)

        def cosine_at(t: float) -> float:
            return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))

        warming = False

        def factor(step: int) -> float:
            nonlocal warming
            if cfg.warmup_steps is None:
                # Warm-up over the first WARMUP_SHARE of the run, measured like the
                # cosine (steps or budget), so it scales with what the budget allows.
                p = progress(step)
                if p < WARMUP_SHARE:
                    warming = True
                    return max(p, (step + 1) / total) / WARMUP_SHARE
                if warming:
                    warming, self.warmup_steps_taken = False, step
                if not cosine:
                    return 1.0
                return cosine_at((p - WARMUP_SHARE) / (1.0 - WARMUP_SHARE))
            warmup = min(cfg.warmup_steps, total)
            if step < warmup:
                return (step + 1) / warmup
            if warmup:
                self.warmup_steps_taken = warmup
            if not cosine:
                return 1.0
            t = (step - warmup) / max(1, total - warmup)
            if budget:
                t = max(t, timer.time_elapsed("train") / budget)
            return cosine_at(t)

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["torchmusic"] = {"train_config": self.cfg.to_dict()}
