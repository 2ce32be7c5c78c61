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

import time
import warnings
from typing import Any

import lightning.pytorch as pl
import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import DataLoader, TensorDataset

from torchmusic.errors import ParameterError
from torchmusic.models.recommend import TwoTower, TwoTowerConfig
from torchmusic.training.engine import build_trainer, quiet_lightning
from torchmusic.training.recommend.module import TwoTowerModule
from torchmusic.training.recommend.settings import TwoTowerTrainConfig


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
    >>> net, info = fit_two_tower(train.plays, TwoTowerTrainConfig(max_epochs=5))  # doctest: +SKIP
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
    t0 = time.perf_counter()
    trainer = build_trainer(
        cfg, None, monitor="val_recall" if valid is not None else None, mode="max"
    )
    with quiet_lightning(verbose=cfg.progress):
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
