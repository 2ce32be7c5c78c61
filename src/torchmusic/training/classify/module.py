"""The LightningModule that trains any ``torchmusic.models`` classifier.

It holds the plain ``nn.Module`` as ``self.model`` (so checkpoint keys are
``model.<param>`` and exporting is a prefix strip), applies augmentation on the
batch (on the training device), and logs torchmetrics metrics: accuracy and
macro-F1 for single-label tasks, mAP and macro-F1 for multi-label ones.

Checkpoints hold only tensors and plain Python values (the training config is
stored as a dict under ``"torchmusic"``), so Lightning can restore them with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.training.augment import augment_batch, mixup


def monitor_metric(multi_label: bool, monitor: str | None = None) -> str:
    """Validation metric used for best-checkpoint selection and early stopping."""
    if monitor is not None:
        return monitor
    return "val_map" if multi_label else "val_macro_f1"


def monitor_mode(monitor: str) -> str:
    """``"min"`` for losses, ``"max"`` for every other metric."""
    return "min" if monitor.endswith("loss") else "max"


def _metrics(n_classes: int, multi_label: bool) -> torchmetrics.MetricCollection:
    if multi_label:
        return torchmetrics.MetricCollection(
            {
                "map": torchmetrics.classification.MultilabelAveragePrecision(
                    num_labels=n_classes, average="macro"
                ),
                "macro_f1": torchmetrics.classification.MultilabelF1Score(
                    num_labels=n_classes, average="macro"
                ),
            }
        )
    return torchmetrics.MetricCollection(
        {
            "acc": torchmetrics.classification.MulticlassAccuracy(
                num_classes=n_classes, average="micro"
            ),
            "macro_f1": torchmetrics.classification.MulticlassF1Score(
                num_classes=n_classes, average="macro"
            ),
        }
    )


class ClassifierModule(pl.LightningModule):
    """Training, validation and test steps of a clip classifier.

    Parameters
    ----------
    model : nn.Module
        Maps features ``(batch, n_bins, frames)`` to logits ``(batch, n_classes)``.
    n_classes : int
        Number of classes.
    multi_label : bool
        Sigmoid + binary cross-entropy instead of softmax + cross-entropy.
    lr, weight_decay : float
        AdamW settings.
    scheduler : {"cosine", "plateau", "none"}
        Learning-rate schedule (cosine over ``max_epochs``, or halving on a plateau
        of ``monitor``).
    max_epochs : int
        Length of the cosine schedule.
    augment : dict
        ``gain_db``, ``time_mask``, ``freq_mask``, ``n_masks``, ``mixup``.
    feature_kind : str
        Feature kind, so gain is applied on the right scale (added for log-mel).
    monitor : str
        Validation metric the plateau schedule watches.
    train_config : dict, optional
        Plain dict of the training config, stored in every checkpoint.
    backbone_lr_scale : float
        For a model with ``backbone_parameters()`` (a
        :class:`~torchmusic.models.classify.backbone.BackboneClassifier`): those of
        its parameters that train (a fine-tuned encoder) learn at
        ``lr * backbone_lr_scale``, in a parameter group of their own. Parameters
        that do not require gradients (a frozen encoder) are left out of the
        optimiser.

    Examples
    --------
    >>> module = ClassifierModule(model, n_classes=10, multi_label=False)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        n_classes: int,
        multi_label: bool,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        scheduler: str = "cosine",
        max_epochs: int = 30,
        augment: dict[str, float] | None = None,
        feature_kind: str = "logmel",
        monitor: str | None = None,
        train_config: dict[str, Any] | None = None,
        backbone_lr_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ParameterError(f"model must be an nn.Module, got {type(model).__name__}")
        if n_classes < 2:
            raise ParameterError(f"n_classes={n_classes} must be >= 2")
        self.model = model
        self.n_classes = int(n_classes)
        self.multi_label = bool(multi_label)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.scheduler_name = scheduler
        self.max_epochs = int(max_epochs)
        self.augment = dict(augment or {})
        self.gain_scale = {"logmel": "db", "mfcc": "db", "mel": "power", "stft": "power"}.get(
            feature_kind, "amplitude"
        )
        # Chroma is normalised per frame: a level change means nothing to it.
        if feature_kind == "chroma":
            self.augment["gain_db"] = 0.0
        self.monitor = monitor_metric(self.multi_label, monitor)
        self.train_config = dict(train_config or {})
        if not float(backbone_lr_scale) > 0:
            raise ParameterError(f"backbone_lr_scale={backbone_lr_scale!r} must be > 0")
        self.backbone_lr_scale = float(backbone_lr_scale)
        metrics = _metrics(self.n_classes, self.multi_label)
        self.val_metrics = metrics.clone(prefix="val_")
        self.test_metrics = metrics.clone(prefix="test_")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    # -- steps ---------------------------------------------------------------------
    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()  # losses in fp32 under mixed precision
        if self.multi_label:
            return F.binary_cross_entropy_with_logits(logits, target.float())
        # Class indices or (mixup) probability targets: cross_entropy takes both.
        return F.cross_entropy(logits, target)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        x = augment_batch(x, settings=self.augment, scale=self.gain_scale)
        alpha = float(self.augment.get("mixup", 0.0))
        if alpha > 0 and x.shape[0] > 1:
            target = y.float() if self.multi_label else F.one_hot(y, self.n_classes).float()
            x, y, _ = mixup(x, target, alpha=alpha)
        loss = self._loss(self(x), y)
        # The per-step value stays local (no all-reduce every step under DDP); the
        # epoch mean is reduced across processes once per epoch.
        self.log("train_loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=len(x)
        )
        return loss

    def _eval_step(self, batch, metrics: torchmetrics.MetricCollection, prefix: str) -> None:
        x, y = batch
        logits = self(x)
        loss = self._loss(logits, y)
        self.log(f"{prefix}_loss", loss, prog_bar=True, sync_dist=True, batch_size=len(x))
        target = y.long() if self.multi_label else y
        preds = torch.sigmoid(logits.float()) if self.multi_label else logits.float()
        metrics.update(preds, target)
        self.log_dict(metrics, prog_bar=True, batch_size=len(x))

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics, "test")

    # -- optimisation ----------------------------------------------------------------
    def parameter_groups(self) -> list[dict[str, Any]]:
        """The optimiser's parameter groups: the trainable parameters at ``lr``, and a
        trainable backbone's at ``lr * backbone_lr_scale`` (a group of its own)."""
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        backbone_parameters = getattr(self.model, "backbone_parameters", None)
        if not callable(backbone_parameters):
            return [{"params": trainable}]
        body = {id(p) for p in backbone_parameters()}
        groups = [{"params": [p for p in trainable if id(p) not in body]}]
        tuned = [p for p in trainable if id(p) in body]
        if tuned:
            groups.append({"params": tuned, "lr": self.lr * self.backbone_lr_scale})
        return groups

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(
            self.parameter_groups(), lr=self.lr, weight_decay=self.weight_decay
        )
        if self.scheduler_name == "none":
            return optimizer
        if self.scheduler_name == "cosine":
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(1, self.max_epochs)
            )
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule}}
        if self.scheduler_name == "plateau":
            schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=monitor_mode(self.monitor), factor=0.5, patience=2
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": schedule, "monitor": self.monitor},
            }
        raise ParameterError(
            f"scheduler={self.scheduler_name!r}; expected 'cosine', 'plateau' or 'none'"
        )

    # -- checkpoints -----------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Plain types only: the checkpoint must load with torch.load(weights_only=True).
        checkpoint["torchmusic"] = {
            "train_config": self.train_config,
            "n_classes": self.n_classes,
            "multi_label": self.multi_label,
        }


def model_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The plain model's ``state_dict`` from a :class:`ClassifierModule` checkpoint."""
    prefix = "model."
    state = checkpoint["state_dict"]
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
