"""The LightningModule of two-tower training: denoising softmax (or BPR) over all items."""

from __future__ import annotations

import copy
from typing import Any

import lightning.pytorch as pl
import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from torchmusic.models.recommend import TwoTower
from torchmusic.training.recommend.settings import TwoTowerTrainConfig


class _Bags:
    """A CSR matrix as tensors, sliced into ``EmbeddingBag`` inputs by user rows."""

    def __init__(self, matrix: sp.csr_matrix) -> None:
        self.indptr = torch.from_numpy(matrix.indptr.astype(np.int64))
        self.indices = torch.from_numpy(matrix.indices.astype(np.int64))
        self.values = torch.from_numpy(matrix.data.astype(np.float32))

    def to(self, device: torch.device) -> _Bags:
        for name in ("indptr", "indices", "values"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def rows(
        self, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(items, values, offsets, bag_of_entry)`` of the given rows."""
        start, end = self.indptr[rows], self.indptr[rows + 1]
        lengths = end - start
        offsets = torch.cumsum(lengths, 0) - lengths
        bag = torch.repeat_interleave(torch.arange(rows.shape[0], device=rows.device), lengths)
        pos = start[bag] + torch.arange(bag.shape[0], device=rows.device) - offsets[bag]
        return self.indices[pos], self.values[pos], offsets, bag


class TwoTowerModule(pl.LightningModule):
    """Lightning wrapper: denoising two-tower training on one play matrix.

    Parameters
    ----------
    net : TwoTower
        The network (kept as ``self.net``).
    train : scipy.sparse.csr_matrix, shape (n_users, n_items)
        Training play counts.
    valid : scipy.sparse.csr_matrix or None
        Held-out play counts for validation recall@10.
    cfg : TwoTowerTrainConfig
    """

    def __init__(
        self,
        net: TwoTower,
        train: sp.csr_matrix,
        valid: sp.csr_matrix | None,
        cfg: TwoTowerTrainConfig,
    ) -> None:
        super().__init__()
        self.net = net
        self.cfg = cfg
        self.n_users = train.shape[0]
        target = sp.csr_matrix(train, dtype=np.float32, copy=True)
        target.data = np.log1p(target.data)
        self.targets = _Bags(target)
        self.valid = _Bags(sp.csr_matrix(valid)) if valid is not None and valid.nnz else None
        self.best_recall = -1.0
        self.best_state: dict[str, torch.Tensor] | None = None
        self._val_sum, self._val_n = 0.0, 0  # recall summed over users, users counted

    def on_fit_start(self) -> None:
        self.targets.to(self.device)
        if self.valid is not None:
            self.valid.to(self.device)

    def _input(self, rows: torch.Tensor, *, dropout: float):
        """``(items, offsets, input weights, bag, target weights)`` of a batch of users."""
        items, target_w, offsets, bag = self.targets.rows(rows)
        # Binary input weights: which items, not how much (the targets carry the plays).
        weights = torch.ones_like(items, dtype=torch.float32)
        if dropout > 0:
            weights = weights * (torch.rand_like(weights) >= dropout)
        return items, offsets, weights, bag, target_w

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        rows = batch[0]
        items, offsets, weights, bag, target_w = self._input(rows, dropout=self.cfg.input_dropout)
        logits = self.net(items, offsets, weights).float()
        if self.cfg.loss == "softmax":
            logp = F.log_softmax(logits, dim=1)
            loss = -(logp[bag, items] * target_w).sum() / rows.shape[0]
        else:
            pos = logits[bag, items]
            neg_items = torch.randint(
                0, logits.shape[1], (pos.shape[0], self.cfg.negatives), device=logits.device
            )
            neg = logits[bag.unsqueeze(1), neg_items]
            loss = -F.logsigmoid(pos.unsqueeze(1) - neg).mean()
        w = self.net.items.weight
        c = self.net.context.weight
        penalty = self.cfg.weight_decay * ((w * w).sum() + (c * c).sum()) / self.n_users
        self.log("train_loss", loss, prog_bar=True, batch_size=rows.shape[0])
        return loss + penalty

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        rows = batch[0]
        assert self.valid is not None
        items, offsets, weights, bag, _ = self._input(rows, dropout=0.0)
        scores = self.net(items, offsets, weights).float()
        scores[bag, items] = -torch.inf  # training items are not recommended
        top = scores.topk(10, dim=1).indices
        v_items, _, _, v_bag = self.valid.rows(rows)
        relevant = torch.zeros_like(scores, dtype=torch.bool)
        relevant[v_bag, v_items] = True
        n_rel = relevant.sum(1)
        hits = relevant.gather(1, top).sum(1)
        keep = n_rel > 0
        recall = (hits[keep] / n_rel[keep]).sum()
        self._val_sum += float(recall)
        self._val_n += int(keep.sum())

    def on_validation_epoch_end(self) -> None:
        recall = self._val_sum / max(self._val_n, 1)
        self._val_sum, self._val_n = 0.0, 0
        self.log("val_recall", recall, prog_bar=True)
        if recall > self.best_recall:
            self.best_recall = recall
            self.best_state = copy.deepcopy(self.net.state_dict())

    def configure_optimizers(self) -> Any:
        opt = torch.optim.Adam(self.net.parameters(), lr=self.cfg.lr)
        if self.cfg.scheduler == "constant":
            return opt
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.cfg.max_epochs)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
