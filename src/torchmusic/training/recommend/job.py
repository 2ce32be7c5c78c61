"""Training the two-tower recommender network with Lightning.

:func:`fit_two_tower` takes a users x items play matrix and returns a trained
:class:`~torchmusic.models.recommend.TwoTower`. Each step takes a batch of users,
drops a random share of each user's items from the *input* bag (denoising: the
model must predict items it was not shown, which is what recommendation asks of
it) and scores every item:

- ``loss="softmax"`` (default): multinomial log-likelihood of the user's items
  over all items, each weighted by ``log1p(plays)``. It is the limit of BPR /
  sampled softmax with every item as a negative, which is affordable here (a
  batch of 256 users x 17,632 items is one small matrix product) and markedly
  better than a few sampled negatives.
- ``loss="bpr"``: Bayesian personalised ranking with ``negatives`` uniformly
  sampled items per positive.

An L2 penalty ``weight_decay * (|items|^2 + |context|^2) / n_users`` keeps the
embeddings small (the scale that matters for 1,892 users is the whole dataset's,
hence the division).
"""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from typing import Any

import lightning.pytorch as pl
import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import EarlyStopping
from torch.utils.data import DataLoader, TensorDataset

from torchmusic.errors import ParameterError
from torchmusic.models.recommend import TwoTower, TwoTowerConfig
from torchmusic.training.engine import quiet_lightning, resolve_accelerator, resolve_precision

LOSSES = ("softmax", "bpr")
SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass
class TwoTowerTrainConfig:
    """Settings of :func:`fit_two_tower` (the network's size is ``dim``).

    Attributes
    ----------
    dim : int
        Embedding size.
    epochs : int
        Passes over the users.
    batch_size : int
        Users per step.
    lr : float
        Adam learning rate.
    schedule : str
        ``"constant"`` or ``"cosine"`` (annealed to 0 over ``epochs``).
    weight_decay : float
        L2 penalty on the embeddings (see the module docstring for its scale).
    input_dropout : float
        Share of each user's items hidden from the input bag at each step.
    loss : str
        ``"softmax"`` or ``"bpr"``.
    negatives : int
        Sampled negatives per positive for ``loss="bpr"``.
    val_fraction : float
        If > 0, hold out this share of each user's items, report validation
        recall@10 per epoch, stop after ``patience`` epochs without improvement
        and keep the best epoch's weights (the held-out items are not trained on).
    patience : int
        Early-stopping patience (with ``val_fraction > 0``).
    seed : int
        Seed of initialisation, shuffling and dropout.
    accelerator : str
        ``"cpu"``, ``"gpu"`` or ``"auto"``.
    progress : bool
        Show Lightning's progress bar.
    """

    dim: int = 64
    epochs: int = 40
    batch_size: int = 128
    lr: float = 3e-3
    schedule: str = "constant"
    weight_decay: float = 5.0
    input_dropout: float = 0.5
    loss: str = "softmax"
    negatives: int = 16
    val_fraction: float = 0.0
    patience: int = 5
    seed: int = 0
    accelerator: str = "cpu"
    progress: bool = False

    def validate(self) -> TwoTowerTrainConfig:
        """Check every field; returns ``self`` (:class:`ParameterError` naming the first bad one)."""
        for name in ("dim", "epochs", "batch_size", "negatives", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive int")
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ParameterError(f"{name}={value!r} must be a non-negative number")
        for name in ("input_dropout", "val_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise ParameterError(f"{name}={value!r} must be in [0, 1)")
        if self.schedule not in SCHEDULES:
            raise ParameterError(f"schedule={self.schedule!r} must be one of {SCHEDULES}")
        if self.loss not in LOSSES:
            raise ParameterError(f"loss={self.loss!r} must be one of {LOSSES}")
        return self


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
        if self.cfg.schedule == "constant":
            return opt
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.cfg.epochs)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


def _holdout(
    plays: sp.csr_matrix, fraction: float, seed: int
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per user, move a random ``fraction`` of the items (keeping one) to a validation matrix."""
    rng = np.random.default_rng(seed)
    held = np.zeros(plays.nnz, dtype=bool)
    for r in range(plays.shape[0]):
        start, n = plays.indptr[r], plays.indptr[r + 1] - plays.indptr[r]
        n_val = min(round(fraction * n), n - 1)
        if n_val > 0:
            held[start + rng.choice(n, size=n_val, replace=False)] = True
    coo = plays.tocoo()
    keep = ~held
    train = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=plays.shape)
    valid = sp.csr_matrix((coo.data[held], (coo.row[held], coo.col[held])), shape=plays.shape)
    return train, valid


def fit_two_tower(
    plays: sp.csr_matrix, cfg: TwoTowerTrainConfig | None = None
) -> tuple[TwoTower, dict[str, Any]]:
    """Train a :class:`TwoTower` on a users x items play matrix.

    Parameters
    ----------
    plays : scipy.sparse matrix, shape (n_users, n_items)
        Play counts (any non-zero entry is an interaction).
    cfg : TwoTowerTrainConfig, optional
        Settings (defaults: the values tuned on Last.fm-2k, see ``docs/recommend.md``).

    Returns
    -------
    (TwoTower, dict)
        The trained network on the CPU in eval mode, and a summary (``epochs``,
        ``train_loss``, ``val_recall`` when validating, ``seconds``).

    Examples
    --------
    >>> net, info = fit_two_tower(train.plays, TwoTowerTrainConfig(epochs=5))  # doctest: +SKIP
    """
    cfg = (cfg or TwoTowerTrainConfig()).validate()
    plays = sp.csr_matrix(plays, dtype=np.float32)
    if plays.nnz == 0:
        raise ParameterError("plays has no interactions to train on")
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    train, valid = plays, None
    if cfg.val_fraction > 0:
        train, valid = _holdout(plays, cfg.val_fraction, cfg.seed)
    net = TwoTower(TwoTowerConfig(n_items=plays.shape[1], dim=cfg.dim))
    module = TwoTowerModule(net, train, valid, cfg)
    users = torch.arange(plays.shape[0])
    active = users[torch.from_numpy(np.diff(train.indptr) > 0)]
    loader = DataLoader(TensorDataset(active), batch_size=cfg.batch_size, shuffle=True)
    val_loader = (
        DataLoader(TensorDataset(active), batch_size=max(cfg.batch_size, 256))
        if valid is not None
        else None
    )
    accelerator = resolve_accelerator(cfg.accelerator)
    callbacks = []
    if valid is not None:
        callbacks.append(EarlyStopping(monitor="val_recall", mode="max", patience=cfg.patience))
    t0 = time.perf_counter()
    with quiet_lightning(verbose=cfg.progress):
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=1,
            precision=resolve_precision(None, accelerator),
            max_epochs=cfg.epochs,
            callbacks=callbacks,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=cfg.progress,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            deterministic=False,
        )
        with warnings.catch_warnings():
            # Validation is optional (val_fraction=0 means none): not a mistake.
            warnings.filterwarnings("ignore", message=r".*no `val_dataloader`.*")
            trainer.fit(module, train_dataloaders=loader, val_dataloaders=val_loader)
    if module.best_state is not None:
        net.load_state_dict(module.best_state)
    info: dict[str, Any] = {
        "epochs": int(trainer.current_epoch),
        "train_loss": float(trainer.callback_metrics.get("train_loss", float("nan"))),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if valid is not None:
        info["val_recall"] = float(module.best_recall)
    return net.cpu().eval(), info
