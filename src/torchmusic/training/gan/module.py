"""The LightningModule of GAN training: a generator, its critic, two Adam optimisers.

On :class:`~torchmusic.training.adversarial.AdversarialModule`, every batch:

1. the discriminator (critic) steps on real vs generated examples: the chosen
   loss (``wgan-gp``: Wasserstein + gradient penalty; ``hinge``; ``lsgan``);
2. every ``n_critic``-th batch the generator steps too, on the critic's score of
   the same generated examples.

WaveGAN works on the clips themselves; SpecGAN on their log-mels (the toolkit's
log-mel at the network's sample rate, hop and bands), mapped to [-1, 1] by
:func:`~torchmusic.models.gan.from_db`. The EMA of the generator (``ema_decay``)
is what sample grids and the model file use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.training.adversarial import AdversarialModule, OptimiserSpec
from torchmusic.training.gan.settings import GanTrainConfig


class GanModule(AdversarialModule):
    """Generator + discriminator, trained by :func:`~torchmusic.training.gan.job.train_gan`.

    Parameters
    ----------
    generator, discriminator : nn.Module
        From :func:`~torchmusic.models.gan.build_gan` (one shared config).
    cfg : GanTrainConfig
    classes : list of str
        Class names (``[]``: unconditional).
    run_dir : Path, optional
        Where sample grids go (``samples/step-NNNNNN/``); None: none are written.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        cfg: GanTrainConfig,
        *,
        classes: list[str],
        run_dir: Path | None = None,
    ) -> None:
        betas = (float(cfg.betas[0]), float(cfg.betas[1]))
        specs = {
            # The discriminator first: it steps on every batch, so global_step counts batches.
            "discriminator": OptimiserSpec(
                ["discriminator"],
                lr=cfg.d_lr or cfg.lr,
                betas=betas,
                kind="adam",
                weight_decay=cfg.weight_decay,
                scheduler=cfg.scheduler,
                grad_clip=cfg.grad_clip,
            ),
            "generator": OptimiserSpec(
                ["generator"],
                lr=cfg.lr,
                betas=betas,
                kind="adam",
                weight_decay=cfg.weight_decay,
                scheduler=cfg.scheduler,
                grad_clip=cfg.grad_clip,
                every=cfg.n_critic,
            ),
        }
        super().__init__(
            {"generator": generator, "discriminator": discriminator},
            specs,
            ema_decay=cfg.ema_decay,
            ema_of="generator",
        )
        self.cfg = cfg
        self.arch = cfg.model
        self.classes = list(classes)
        self.conditional = bool(classes)
        self.run_dir = run_dir
        self.config = generator.config
        if self.arch == "specgan":
            from torchmusic.models.gan.ganfile import specgan_feature

            self.feature = specgan_feature(self.config)
        else:
            from torchmusic.features.config import FeatureConfig

            self.feature = FeatureConfig(kind="logmel", sr=self.config.sample_rate)
        from torchmusic.models.gan.losses import adversarial_losses

        self.d_loss_fn, self.g_loss_fn = adversarial_losses(cfg.loss)

    # -- pieces --------------------------------------------------------------------------
    def to_input(self, audio: torch.Tensor) -> torch.Tensor:
        """Real clips ``(batch, samples)`` -> what the critic sees (audio or [-1, 1] log-mel)."""
        if self.arch == "wavegan":
            return audio
        from torchmusic.models.gan.specgan import from_db

        with torch.no_grad(), torch.autocast(audio.device.type, enabled=False):
            mel = self.feature.compute(audio.float())[..., : self.config.n_frames]
            return from_db(mel, db_range=self.config.db_range)

    def sample_latents(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, device=device)

    # -- Lightning hooks -----------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> None:
        from torchmusic.models.gan.losses import gradient_penalty

        audio, labels = batch
        labels = labels if self.conditional else None
        real = self.to_input(audio)
        z = self.sample_latents(real.shape[0], real.device)
        generator, critic = self.nets.generator, self.nets.discriminator
        fake = generator(z, labels)
        real_logits = critic(real, labels).float()
        fake_logits = critic(fake.detach(), labels).float()
        d_loss = self.d_loss_fn(real_logits, fake_logits)
        if self.cfg.loss == "wgan-gp":
            with torch.autocast(real.device.type, enabled=False):
                gp = gradient_penalty(
                    critic,
                    real.float(),
                    fake.detach().float(),
                    labels=labels,
                    weight=self.cfg.gp_weight,
                )
            self.log("train_gp", gp.detach(), on_step=True, on_epoch=False)
            d_loss = d_loss + gp
        self.step_optimiser("discriminator", d_loss)
        self.log(
            "train_wasserstein",
            (real_logits.mean() - fake_logits.mean()).detach(),
            on_step=True,
            on_epoch=False,
            prog_bar=True,
        )
        if self.due("generator"):
            g_loss = self.g_loss_fn(critic(fake, labels).float())
            if self.cfg.mode_seeking > 0:
                g_loss = g_loss + self.cfg.mode_seeking * self.mode_seeking_loss(z, fake, labels)
            self.step_optimiser("generator", g_loss)

    def mode_seeking_loss(
        self, z: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> torch.Tensor:
        """MSGAN's term: ``1 / (mean|G(z, y) - G(z2, y)| / mean|z - z2| + 1e-5)``.

        A second batch with fresh latents and the *same* labels, so each pair
        differs only in its latent. Logs the ratio as ``train_mode_seeking``
        (higher: the latent changes the sound more).
        """
        z2 = self.sample_latents(z.shape[0], z.device)
        fake2 = self.nets.generator(z2, labels)
        ratio = (fake - fake2).abs().float().mean() / (z - z2).abs().float().mean()
        self.log("train_mode_seeking", ratio.detach(), on_step=True, on_epoch=False)
        return 1.0 / (ratio + 1e-5)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        every = self.cfg.examples_every_n_steps
        step = int(self.global_step)
        if every and step % every == 0 and step > 0:
            self.write_samples()

    def on_train_end(self) -> None:
        if self.cfg.examples_every_n_steps:
            self.write_samples()

    # -- sample grids ----------------------------------------------------------------------
    def write_samples(self) -> list[Path]:
        """Write the fixed-latent sample grid of the current step (rank 0, EMA generator)."""
        if self.run_dir is None or not self.trainer.is_global_zero:
            return []
        from torchmusic.training.gan.examples import write_sample_grid

        folder = self.run_dir / "samples" / f"step-{int(self.global_step):06d}"
        if folder.is_dir():
            return []
        return write_sample_grid(
            folder,
            self.inference_net(),
            arch=self.arch,
            classes=self.classes,
            per_class=self.cfg.examples_per_class,
            seed=self.cfg.seed,
            feature=self.feature,
        )
