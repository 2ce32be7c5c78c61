"""The LightningModule of embedding training: reconstruction or NT-Xent contrastive loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch


class EmbedderModule(pl.LightningModule):
    """Training and validation steps of an autoencoder or a contrastive encoder.

    Checkpoints hold tensors and plain values only (``weights_only=True`` loads them).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        kind: str,
        lr: float,
        weight_decay: float,
        max_epochs: int,
        augment: Mapping[str, float] | None,
        train_config: dict[str, Any],
        scheduler: str = "cosine",
        hop_seconds: float = 512 / 22050,
    ) -> None:
        from torchmusic.training.embed.settings import is_music_augment

        super().__init__()
        self.model, self.kind = model, kind
        self.lr, self.weight_decay, self.max_epochs = lr, weight_decay, max_epochs
        self.augment = dict(augment or {})
        self.music = is_music_augment(self.augment)
        self.hop_seconds = hop_seconds
        self.train_config = train_config
        self.scheduler = scheduler

    def _views(self, x: torch.Tensor, *, train: bool) -> torch.Tensor:
        """Training views of crops ``x``; validation crops pass unchanged (cut to the clip)."""
        n_frames = self.model.config.n_frames
        if not (train and self.augment):
            return x[..., :n_frames]
        if self.music:
            from torchmusic.training.embed.augment import augment_views

            return augment_views(
                x, settings=self.augment, n_frames=n_frames, hop_seconds=self.hop_seconds
            )
        from torchmusic.training.augment import augment_batch

        return augment_batch(x[..., :n_frames], settings=self.augment)

    def _loss(self, views: torch.Tensor, tracks: torch.Tensor, *, train: bool) -> torch.Tensor:
        from torchmusic.models.embed.contrastive import nt_xent_loss

        if self.kind == "autoencoder":
            x = views[:, 0, :, : self.model.config.n_frames]
            return self.model.reconstruction_loss(x, self.model(x))
        a, b = self._views(views[:, 0], train=train), self._views(views[:, 1], train=train)
        temperature = self.model.config.temperature
        return nt_xent_loss(self.model(a), self.model(b), temperature=temperature, groups=tracks)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        views, tracks = batch
        loss = self._loss(views, tracks, train=True)
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        views, tracks = batch
        if self.kind == "contrastive" and views.shape[0] < 2:
            return
        self.log("val_loss", self._loss(views, tracks, train=False), prog_bar=True)
        if self.kind == "contrastive":
            a, b = self.model.embed(views[:, 0]), self.model.embed(views[:, 1])
            nearest = (a @ b.T).argmax(dim=1)
            self.log("val_top1", (tracks[nearest] == tracks).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.scheduler == "none":
            return opt
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.max_epochs)
        return {"optimizer": opt, "lr_scheduler": sched}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["torchmusic"] = {"train_config": self.train_config}
