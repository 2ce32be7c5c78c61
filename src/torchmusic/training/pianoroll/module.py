"""The LightningModule of piano-roll training: the frame NLL in nats (JSB protocol)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torchmetrics.aggregation import SumMetric

from torchmusic.training.pianoroll.data import random_transpose


class PianoRollModule(pl.LightningModule):
    """Training/validation/test steps of a piano-roll model on the frame NLL.

    Logs ``train_nll`` and ``val_nll`` / ``test_nll`` in nats per frame (summed over
    keys, averaged over all frames of the split: the JSB protocol). Checkpoints
    hold tensors and plain values only (``weights_only=True`` loads them).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        lr: float,
        weight_decay: float = 0.0,
        scheduler: str = "plateau",
        lr_patience: int = 3,
        max_epochs: int = 100,
        transpose: int = 0,
        train_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.lr, self.weight_decay = lr, weight_decay
        self.scheduler, self.lr_patience, self.max_epochs = scheduler, lr_patience, max_epochs
        self.transpose = transpose
        self.train_config = train_config or {}
        # Sums over frames, synchronised across processes: exact split-level NLL.
        self.nll_sum, self.frames = SumMetric(), SumMetric()

    def _nll(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        roll, lengths = batch
        return -self.model.log_prob(roll, lengths=lengths).sum(), lengths.sum()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        roll, lengths = batch
        roll = random_transpose(roll, lengths, self.transpose)
        total, frames = self._nll((roll, lengths))
        loss = total / frames
        self.log("train_nll", loss, prog_bar=True, batch_size=int(frames))
        return loss

    def _eval_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        total, frames = self._nll(batch)
        self.nll_sum.update(total)
        self.frames.update(frames.to(total.dtype))

    def _eval_end(self, name: str) -> None:
        frames = self.frames.compute()
        if frames > 0:
            # Already summed over processes by the metrics: the same value everywhere.
            self.log(name, self.nll_sum.compute() / frames, prog_bar=True, sync_dist=True)
        self.nll_sum.reset()
        self.frames.reset()

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_end(self) -> None:
        self._eval_end("val_nll")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_test_epoch_end(self) -> None:
        self._eval_end("test_nll")

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.max_epochs)
            return {"optimizer": opt, "lr_scheduler": sched}
        if self.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="min", factor=0.5, patience=self.lr_patience
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_nll"}}
        return opt

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["torchmusic"] = {"train_config": self.train_config}
