"""Manual optimisation with several optimisers (GANs) on the run engine.

:class:`AdversarialModule` is a LightningModule base for N named networks
(``"generator"``, ``"mpd"``, ``"msd"``, ...) updated by M named optimisers, each
described by an :class:`OptimiserSpec` (which networks it updates, Adam/AdamW
settings, learning-rate schedule, gradient clipping, how often it steps). A
subclass passes plain ``nn.Module`` networks and writes ``training_step`` with
:meth:`~AdversarialModule.due` and :meth:`~AdversarialModule.step_optimiser`::

    def training_step(self, batch, batch_idx):
        fake = self.nets.generator(noise)
        d_loss = hinge_d(self.nets.discriminator(batch), self.nets.discriminator(fake.detach()))
        self.step_optimiser("discriminator", d_loss)
        if self.due("generator"):                    # every n_critic batches
            self.step_optimiser("generator", hinge_g(self.nets.discriminator(fake)))

The base builds the optimisers and schedulers, steps the schedulers (Lightning
does not in manual optimisation), clips gradients, keeps an optional EMA of a
network (saved in checkpoints, used by :meth:`~AdversarialModule.inference_net`)
and logs ``<optimiser>_loss`` and ``lr_<optimiser>``. Train it with
``engine.build_trainer(settings, run, manual_optimization=True)``.

Steps. ``trainer.global_step`` (hence ``max_steps``, ``checkpoint_every_n_steps``
and ``log_every_n_steps``) counts *training batches* in which any optimiser
stepped, as in automatic optimisation, not Lightning's manual-mode count of
every ``optimizer.step()`` (which would advance by 2 per GAN batch, or
irregularly with n_critic, so that every-N-steps checkpoints were skipped).

Mixed precision. ``manual_backward`` scales the loss under ``16-mixed``; clipping
runs in :meth:`~AdversarialModule.on_before_optimizer_step`, which Lightning calls
after unscaling, so the clip threshold applies to true gradients. Lightning's
one GradScaler is updated after each optimiser's step (twice per GAN batch), not
once per iteration as torch's multi-optimiser recipe does: harmless, but the
scale can move twice per batch. ``bf16-mixed`` needs no scaler.

DDP. The generator's loss back-propagates through the discriminator while the
discriminator's loss does not reach the generator, so DDP needs
``strategy="ddp_find_unused_parameters_true"``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from torchmusic.errors import ParameterError

OPTIMISERS = ("adamw", "adam")
SCHEDULES = ("none", "exponential", "cosine")


@dataclasses.dataclass
class OptimiserSpec:
    """One optimiser of an :class:`AdversarialModule`, declaratively.

    Parameters
    ----------
    networks : sequence of str
        Names of the networks whose parameters it updates (e.g. ``["mpd", "msd"]``).
    lr : float
        Initial learning rate.
    betas : tuple of float
        Adam betas (HiFi-GAN: ``(0.8, 0.99)``; WGAN-GP: ``(0.5, 0.9)``).
    weight_decay : float
        Decoupled (AdamW) or L2 (Adam) weight decay.
    kind : {"adamw", "adam"}
        The optimiser class.
    scheduler : {"none", "exponential", "cosine"}
        ``exponential``: ``lr * gamma ** epoch`` (HiFi-GAN's per-epoch decay);
        ``cosine``: cosine decay to 0 over the run's planned batches
        (``trainer.estimated_stepping_batches``), stepped after each of this
        optimiser's steps; ``none``: constant.
    gamma : float
        Per-epoch factor of the exponential schedule.
    grad_clip : float
        Clip the gradient norm of this optimiser's parameters to this (0: off).
    every : int
        Step on every ``every``-th training batch only: the generator's
        ``every`` is WGAN-GP's n_critic (discriminator steps per generator step).
    """

    networks: Sequence[str]
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.0
    kind: str = "adamw"
    scheduler: str = "none"
    gamma: float = 0.999
    grad_clip: float = 0.0
    every: int = 1

    def __post_init__(self) -> None:
        self.networks = [self.networks] if isinstance(self.networks, str) else list(self.networks)
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if self.kind not in OPTIMISERS:
            raise ParameterError(f"optimiser kind={self.kind!r}; expected one of {OPTIMISERS}")
        if self.scheduler not in SCHEDULES:
            raise ParameterError(f"scheduler={self.scheduler!r}; expected one of {SCHEDULES}")
        if not self.networks:
            raise ParameterError("an optimiser needs at least one network")
        if not self.lr > 0 or self.grad_clip < 0 or not 0 < self.gamma <= 1:
            raise ParameterError(
                f"lr={self.lr!r} must be > 0, grad_clip={self.grad_clip!r} >= 0 and "
                f"gamma={self.gamma!r} in (0, 1]"
            )
        if not isinstance(self.every, int) or self.every < 1:
            raise ParameterError(f"every={self.every!r} must be a positive integer")


class EMA(nn.Module):
    """An exponential moving average of a network's weights (``decay`` per update).

    Own implementation rather than ``torch.optim.swa_utils.AveragedModel``: with
    ``use_buffers=True`` AveragedModel lerps every buffer, which fails on integer
    ones (BatchNorm's ``num_batches_tracked``), and with ``use_buffers=False`` it
    leaves buffers (running statistics) at their initial values. Here floating
    parameters are averaged and buffers copied. The average lives in
    ``self.module``, a frozen copy registered as a submodule, so it is part of
    the LightningModule's ``state_dict``: saved in every checkpoint, restored on
    resume and by ``evaluate_best``.

    The decay warms up as TensorFlow's ``ExponentialMovingAverage(num_updates=)``
    does: update ``n`` uses ``min(decay, (1 + n) / (10 + n))``. Without it, a
    0.999 average still holds a third of the random initial weights after 1,000
    updates, which is all a short CPU run makes. The update count is a buffer,
    saved and restored with the average.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ParameterError(f"ema_decay={decay!r} must be in (0, 1)")
        self.decay = decay
        self.module = copy.deepcopy(net).requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        """The decay the next :meth:`update` uses (warm-up, then ``decay``)."""
        n = int(self.updates)
        return min(self.decay, (1 + n) / (10 + n))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Checkpoints written before the warm-up have no count: they are past it.
        state_dict.setdefault(prefix + "updates", torch.tensor(10**9, dtype=torch.long))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """Move the average towards ``net``'s current weights."""
        decay = self.current_decay()
        self.updates += 1
        for avg, new in zip(self.module.parameters(), net.parameters(), strict=True):
            if avg.dtype.is_floating_point:
                avg.lerp_(new.detach(), 1.0 - decay)
            else:
                avg.copy_(new)
        for avg, new in zip(self.module.buffers(), net.buffers(), strict=True):
            avg.copy_(new)


class AdversarialModule(pl.LightningModule):
    """Base LightningModule for several networks and optimisers, stepped by hand.

    Parameters
    ----------
    networks : mapping of str to nn.Module
        Plain networks, reachable as ``self.nets.<name>`` (``self.nets[name]``).
    optimisers : mapping of str to OptimiserSpec
        The optimisers by name, in the order Lightning holds them.
    ema_decay : float
        Keep an EMA of ``networks[ema_of]`` with this decay (0: none), updated
        after each step of an optimiser that updates that network.
    ema_of : str
        The network averaged (usually ``"generator"``).

    A subclass writes ``training_step`` with :meth:`due` / :meth:`step_optimiser`
    and validates / exports with :meth:`inference_net`. If it overrides
    ``on_train_batch_start``, ``on_train_epoch_start`` or
    ``on_before_optimizer_step`` it calls ``super()``.
    """

    def __init__(
        self,
        networks: Mapping[str, nn.Module],
        optimisers: Mapping[str, OptimiserSpec],
        *,
        ema_decay: float = 0.0,
        ema_of: str = "generator",
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.nets = nn.ModuleDict(dict(networks))
        self.specs = dict(optimisers)
        for name, spec in self.specs.items():
            unknown = sorted(set(spec.networks) - set(self.nets))
            if unknown:
                raise ParameterError(
                    f"optimiser {name!r} updates unknown networks {unknown}; networks: "
                    f"{sorted(self.nets)}"
                )
        if ema_decay and ema_of not in self.nets:
            raise ParameterError(
                f"ema_of={ema_of!r} is not one of the networks {sorted(self.nets)}"
            )
        self.ema = EMA(self.nets[ema_of], ema_decay) if ema_decay else None
        self.ema_of = ema_of
        self._index = {name: i for i, name in enumerate(self.specs)}
        self._clip: dict[int, float] = {}  # id(torch optimiser) -> max gradient norm
        self._iteration = 0
        self._counted = False

    # -- optimisers -------------------------------------------------------------------
    def configure_optimizers(self) -> tuple[list[torch.optim.Optimizer], list[Any]]:
        """One optimiser per spec, and its scheduler (stepped by this class, not Lightning)."""
        optimisers, schedulers = [], []
        for spec in self.specs.values():
            params = [p for n in spec.networks for p in self.nets[n].parameters()]
            cls = torch.optim.AdamW if spec.kind == "adamw" else torch.optim.Adam
            opt = cls(params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)
            optimisers.append(opt)
            self._clip[id(opt)] = spec.grad_clip
            if spec.scheduler == "exponential":
                schedulers.append(torch.optim.lr_scheduler.ExponentialLR(opt, gamma=spec.gamma))
            elif spec.scheduler == "cosine":
                total = self.trainer.estimated_stepping_batches
                if not math.isfinite(total):
                    raise ParameterError(
                        "the cosine schedule needs a run of known length: set max_steps"
                    )
                t_max = max(1, int(total) // spec.every)
                schedulers.append(torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max))
        return optimisers, schedulers

    def optimiser(self, name: str) -> Any:
        """The named optimiser (Lightning's wrapper: ``.optimizer`` is the torch one)."""
        opts = self.optimizers()
        return opts[self._index[name]] if isinstance(opts, list) else opts

    def scheduler(self, name: str) -> Any:
        """The named optimiser's LR scheduler (None with ``scheduler="none"``)."""
        raw = self.optimiser(name).optimizer
        for config in self.trainer.lr_scheduler_configs:
            if config.scheduler.optimizer is raw:
                return config.scheduler
        return None

    # -- stepping ---------------------------------------------------------------------
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # The batch's iteration number, fixed before any step of this batch counts.
        self._iteration, self._counted = self.global_step, False

    @property
    def iteration(self) -> int:
        """This batch's step number (``global_step`` before the batch; fixed during it).

        Randomness drawn from ``(seed, iteration)`` makes a resumed run repeat
        exactly what an uninterrupted one does.
        """
        return self._iteration

    def due(self, name: str) -> bool:
        """Whether optimiser ``name`` steps on this batch (its ``every``-th batches)."""
        every = self.specs[name].every
        return self._iteration % every == every - 1

    def step_optimiser(self, name: str, loss: torch.Tensor) -> None:
        """zero_grad, backward ``loss``, clip (``grad_clip > 0``), step; then EMA and schedule.

        Logs ``<name>_loss`` and ``lr_<name>``. The first step of a batch advances
        ``global_step``; further steps in the same batch go through the same
        strategy/precision path (scaling, unscaling, clipping) without counting.
        """
        opt = self.optimiser(name)
        spec = self.specs[name]
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if not self._counted:
            opt.step()  # Lightning counts this one: global_step += 1
            self._counted = True
        else:
            self.trainer.strategy.optimizer_step(opt.optimizer, closure=_no_closure)
        if self.ema is not None and self.ema_of in spec.networks:
            self.ema.update(self.nets[self.ema_of])
        schedule = self.scheduler(name) if spec.scheduler == "cosine" else None
        if schedule is not None:
            schedule.step()
        self.log(f"{name}_loss", loss.detach().float(), prog_bar=True)
        self.log(f"lr_{name}", float(opt.optimizer.param_groups[0]["lr"]))

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning calls this after AMP unscaling: the threshold applies to true gradients.
        clip = self._clip.get(id(optimizer), 0.0)
        if clip > 0:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    def on_train_epoch_start(self) -> None:
        # Per-epoch schedules are caught up to the epoch number rather than stepped at
        # epoch end: a checkpoint written before or after an epoch-end hook then
        # resumes at the same learning rate.
        for name, spec in self.specs.items():
            if spec.scheduler == "exponential":
                schedule = self.scheduler(name)
                while schedule.last_epoch < self.current_epoch:
                    schedule.step()

    # -- evaluation ---------------------------------------------------------------------
    def inference_net(self, name: str | None = None) -> nn.Module:
        """The network to validate or export: the EMA copy of ``ema_of`` when kept."""
        name = name or self.ema_of
        if self.ema is not None and name == self.ema_of:
            return self.ema.module
        return self.nets[name]


def _no_closure() -> None:
    return None
