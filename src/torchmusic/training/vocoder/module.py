"""The LightningModule of vocoder training: a generator, its discriminators, two optimisers.

Steps are the HiFi-GAN / Vocos recipe on :class:`~torchmusic.training.adversarial.AdversarialModule`:

- warm-up (``step < adversarial_after``, or always when it is None): the generator
  alone, on ``lambda_mel * mel L1 + lambda_mrstft * (spectral convergence + log STFT
  magnitude)``;
- adversarial phase: first the discriminators on real vs generated audio, then
  the generator on the reconstruction losses plus ``lambda_adv * adversarial +
  lambda_fm * feature matching``.

Validation scores the generator on fixed held-out segments: ``val_mel_l1`` (the
log-mel L1 in dB, the checkpoint monitor) and ``val_mrstft``, and writes audio and
spectrogram PNGs of a few segments every ``audio_every_n_epochs`` epochs.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from torchmusic.training.adversarial import AdversarialModule, OptimiserSpec
from torchmusic.training.vocoder.settings import VocoderTrainConfig

#: dB to natural-log amplitude: HiFi-GAN's mel loss works in ln(amplitude) units.
DB_TO_NEPER = math.log(10.0) / 20.0


def build_discriminators(names: list[str]) -> dict[str, nn.Module]:
    """The named discriminators (``mpd``, ``msd``, ``mrd``) at their default sizes."""
    from torchmusic.models.vocoder import (
        MultiPeriodDiscriminator,
        MultiResolutionDiscriminator,
        MultiScaleDiscriminator,
    )

    kinds = {
        "mpd": MultiPeriodDiscriminator,
        "msd": MultiScaleDiscriminator,
        "mrd": MultiResolutionDiscriminator,
    }
    return {name: kinds[name]() for name in names}


class VocoderModule(AdversarialModule):
    """Generator + discriminators, trained by :func:`~torchmusic.training.vocoder.job.train_vocoder`.

    Parameters
    ----------
    generator : nn.Module
        ``(batch, n_mels, frames)`` log-mel in dB -> ``(batch, frames * hop)`` audio.
    cfg : VocoderTrainConfig
    run_dir : Path or None
        Where validation audio and PNGs go (``run_dir/validation/epoch-NNN``).
    """

    def __init__(
        self, generator: nn.Module, cfg: VocoderTrainConfig, *, run_dir: Path | None = None
    ) -> None:
        from torchmusic.features.modules import LogMelSpectrogram
        from torchmusic.models.vocoder import MelLoss, MultiResolutionSTFTLoss

        discs = build_discriminators(list(cfg.discriminators)) if cfg.adversarial else {}
        betas = (float(cfg.betas[0]), float(cfg.betas[1]))
        specs = {
            "generator": OptimiserSpec(
                ["generator"],
                lr=cfg.lr,
                betas=betas,
                weight_decay=cfg.weight_decay,
                scheduler=cfg.scheduler,
                gamma=cfg.gamma,
                grad_clip=cfg.grad_clip,
            )
        }
        if discs:
            specs["discriminator"] = OptimiserSpec(
                list(discs),
                lr=cfg.d_lr,
                betas=betas,
                weight_decay=cfg.weight_decay,
                scheduler=cfg.scheduler,
                gamma=cfg.gamma,
                grad_clip=cfg.grad_clip,
            )
        super().__init__({"generator": generator, **discs}, specs)
        self.cfg = cfg
        self.run_dir = run_dir
        feature = cfg.feature_config()
        self.feature = feature
        # The generator's input: exactly the features torchmusic computes.
        self.to_mel = LogMelSpectrogram(
            sr=feature.sr,
            n_fft=feature.n_fft,
            hop_length=feature.hop_length,
            win_length=feature.win_length,
            window=feature.window,
            center=feature.center,
            pad_mode=feature.pad_mode,
            power=feature.power,
            n_mels=feature.n_mels,
            fmin=feature.fmin,
            fmax=feature.fmax,
            htk=feature.htk,
            norm=feature.norm,
            top_db=feature.top_db,
        )
        self.mel_loss = MelLoss(feature)
        self.stft_loss = MultiResolutionSTFTLoss()
        self.discriminator_names = list(discs)

    # -- pieces --------------------------------------------------------------------------
    def mel_of(self, audio: torch.Tensor) -> torch.Tensor:
        # Features and losses in float32 even under bf16/fp16 autocast: STFTs and
        # dB conversions in half precision would change what the vocoder learns.
        with torch.no_grad(), torch.autocast(audio.device.type, enabled=False):
            return self.to_mel(audio.float())

    def generate(self, mel: torch.Tensor, n_samples: int, *, net: nn.Module | None = None):
        out = (net or self.nets.generator)(mel)
        return out[..., :n_samples]

    def adversarial_now(self) -> bool:
        after = self.cfg.adversarial_after
        return after is not None and self.global_step >= after

    def reconstruction(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.autocast(real.device.type, enabled=False):
            real, fake = real.float(), fake.float()
            mel = self.mel_loss(real, fake)
            sc, mag = self.stft_loss(real, fake)
        total = self.cfg.lambda_mel * mel + self.cfg.lambda_mrstft * (sc + mag)
        return {"total": total, "mel": mel, "sc": sc, "mag": mag}

    # -- Lightning hooks -----------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        # New random segments every epoch (Lightning sets samplers' epochs, not datasets').
        dataset = getattr(self.trainer.train_dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(self.current_epoch)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        from torchmusic.models.vocoder import losses as L

        real = batch
        mel = self.mel_of(real)
        fake = self.generate(mel, real.shape[-1])
        adversarial = self.adversarial_now()
        hinge = self.cfg.adversarial_loss == "hinge"
        if adversarial:
            d_loss = real.new_zeros(())
            for name in self.discriminator_names:
                disc = self.nets[name]
                real_logits, _ = disc(real.unsqueeze(1))
                fake_logits, _ = disc(fake.detach().unsqueeze(1))
                d_fn = L.hinge_discriminator_loss if hinge else L.lsgan_discriminator_loss
                d_loss = d_loss + d_fn(real_logits, fake_logits)
            self.step_optimiser("discriminator", d_loss)
        rec = self.reconstruction(real, fake)
        g_loss = rec["total"]
        if adversarial:
            adv = real.new_zeros(())
            fm = real.new_zeros(())
            for name in self.discriminator_names:
                disc = self.nets[name]
                with torch.no_grad():
                    _, real_feats = disc(real.unsqueeze(1))
                fake_logits, fake_feats = disc(fake.unsqueeze(1))
                g_fn = L.hinge_generator_loss if hinge else L.lsgan_generator_loss
                adv = adv + g_fn(fake_logits)
                fm = fm + L.feature_matching_loss(real_feats, fake_feats)
            g_loss = g_loss + self.cfg.lambda_adv * adv + self.cfg.lambda_fm * fm
            self.log("train_adv", adv.detach(), on_step=True, on_epoch=False)
            self.log("train_fm", fm.detach(), on_step=True, on_epoch=False)
        self.step_optimiser("generator", g_loss)
        self.log("train_mel_l1_db", rec["mel"].detach() / DB_TO_NEPER, prog_bar=True)
        self.log("train_mrstft", (rec["sc"] + rec["mag"]).detach())

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        real = batch
        mel = self.mel_of(real)
        fake = self.generate(mel, real.shape[-1], net=self.inference_net())
        rec = self.reconstruction(real, fake)
        n = real.shape[0]
        self.log(
            "val_mel_l1", rec["mel"] / DB_TO_NEPER, batch_size=n, prog_bar=True, sync_dist=True
        )
        self.log("val_mrstft", rec["sc"] + rec["mag"], batch_size=n, sync_dist=True)
        self.log("val_sc", rec["sc"], batch_size=n, sync_dist=True)
        if batch_idx == 0:
            self._write_examples(real, fake)

    def _write_examples(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        every = self.cfg.audio_every_n_epochs
        if (
            self.run_dir is None
            or not every
            or self.trainer.sanity_checking
            or not self.trainer.is_global_zero
            or (self.current_epoch + 1) % every
        ):
            return
        from torchmusic.training.vocoder.examples import write_examples

        write_examples(
            self.run_dir / "validation" / f"epoch-{self.current_epoch:03d}",
            real[: self.cfg.audio_examples].float().cpu(),
            fake[: self.cfg.audio_examples].float().cpu(),
            feature=self.feature,
        )
