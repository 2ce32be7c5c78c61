"""The LightningModule of denoiser training: one network, one loss, automatic optimisation.

Training minimises ``lambda_sisdr * -SI-SDR + lambda_stft * compressed STFT MSE``
(:class:`~torchmusic.models.denoise.DenoiseLoss`). Validation logs, on fixed noisy /
clean pairs of held-out tracks and noises:

- ``val_si_sdr``: SI-SDR of the estimate (dB; the checkpoint monitor, higher is better);
- ``val_si_sdri``: its improvement over the noisy input's SI-SDR (dB);
- ``val_loss``, ``val_stft``;

and writes noisy / clean / denoised WAVs of a few pairs every ``audio_every_n_epochs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from torchmusic.training.denoise.settings import DenoiseTrainConfig


class DenoiseModule(pl.LightningModule):
    """A denoiser network trained by :func:`~torchmusic.training.denoise.job.train_denoiser`.

    Parameters
    ----------
    net : nn.Module
        ``(batch, samples)`` noisy -> ``(batch, samples)`` clean estimate.
    cfg : DenoiseTrainConfig
    run_dir : Path or None
        Where validation audio goes (``run_dir/validation/epoch-NNN``).
    """

    def __init__(self, net: nn.Module, cfg: DenoiseTrainConfig, *, run_dir: Path | None = None):
        super().__init__()
        from torchmusic.models.denoise.losses import DenoiseLoss

        self.net = net
        self.cfg = cfg
        self.run_dir = run_dir
        self.loss = DenoiseLoss(cfg.lambda_sisdr, cfg.lambda_stft)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.net(noisy)

    def on_train_epoch_start(self) -> None:
        # New pairs every epoch (Lightning sets samplers' epochs, not datasets').
        dataset = getattr(self.trainer.train_dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(self.current_epoch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        est = self.net(batch["noisy"])
        parts = self.loss(batch["clean"], est)
        n = batch["clean"].shape[0]
        self.log("train_loss", parts["total"].detach(), batch_size=n, prog_bar=True)
        self.log("train_si_sdr", -parts["neg_si_sdr"].detach(), batch_size=n)
        self.log("train_stft", parts["stft"].detach(), batch_size=n)
        return parts["total"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        from torchmusic.models.denoise.losses import neg_si_sdr

        noisy, clean = batch["noisy"], batch["clean"]
        est = self.net(noisy)
        parts = self.loss(clean, est)
        out_db = -neg_si_sdr(clean, est, reduction="none")
        in_db = -neg_si_sdr(clean, noisy, reduction="none")
        n = clean.shape[0]
        self.log("val_si_sdr", out_db.mean(), batch_size=n, prog_bar=True, sync_dist=True)
        self.log(
            "val_si_sdri", (out_db - in_db).mean(), batch_size=n, prog_bar=True, sync_dist=True
        )
        self.log("val_loss", parts["total"], batch_size=n, sync_dist=True)
        self.log("val_stft", parts["stft"], batch_size=n, sync_dist=True)
        if batch_idx == 0:
            self._write_examples(noisy, clean, est)

    def _write_examples(self, noisy: torch.Tensor, clean: torch.Tensor, est: torch.Tensor) -> None:
        every = self.cfg.audio_every_n_epochs
        if (
            self.run_dir is None
            or not every
            or self.trainer.sanity_checking
            or not self.trainer.is_global_zero
            or (self.current_epoch + 1) % every
        ):
            return
        import soundfile as sf

        folder = self.run_dir / "validation" / f"epoch-{self.current_epoch:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        k = self.cfg.audio_examples
        for i in range(min(k, noisy.shape[0])):
            for name, audio in (("noisy", noisy), ("clean", clean), ("denoised", est)):
                sf.write(
                    folder / f"{i:02d}-{name}.wav",
                    audio[i].detach().float().clamp(-1, 1).cpu().numpy(),
                    self.cfg.sr,
                    subtype="PCM_16",
                )

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(
            self.net.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay
        )
        if self.cfg.scheduler == "none":
            return opt
        # Cosine over the planned steps (max_steps, or epochs x batches), per step.
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
