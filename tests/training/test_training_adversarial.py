"""Manual optimisation with two optimisers on the run engine: a toy GAN.

The target is a 1-D mixture of two Gaussians (at 2 and 4, mean 3); the generator and
the discriminator are tiny MLPs trained with least-squares losses. Each test trains
a few steps on a CPU through ``start_run`` / ``build_trainer`` / ``fit``.

Randomness: a resumed run repeats an uninterrupted one exactly only if everything it
draws after the restart is what the uninterrupted run drew. Lightning restarts a
plain DataLoader from its first batch when resuming mid-epoch (only a stateful
loader would continue), so the toy takes no randomness from its loader: each batch
draws its real samples and its noise from a generator seeded by
``(seed, iteration)``, the batch's step number (``AdversarialModule.iteration``).
The loader only sets the epoch length and the batch size.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torchmusic.training.adversarial import AdversarialModule, OptimiserSpec
from torchmusic.training.engine import build_trainer, evaluate_best, finish_run, fit, start_run
from torchmusic.training.recipe import RunRecipe

TARGET_MEAN = 3.0


@dataclasses.dataclass
class ToyRecipe(RunRecipe):
    """A toy GAN's settings: the shared ones plus the GAN's own."""

    latent: int = 4
    width: int = 16
    d_lr: float = 1e-2
    betas: list[float] = dataclasses.field(default_factory=lambda: [0.5, 0.9])
    gamma: float = 0.5
    d_scheduler: str = "none"
    n_critic: int = 1
    ema_decay: float = 0.0
    steps_per_epoch: int = 4

    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = ("latent", "width", "lr", "d_lr", "n_critic", "seed")
    SCHEDULERS: ClassVar[tuple[str, ...]] = ("exponential", "cosine", "none")


class ToyGAN(AdversarialModule):
    def __init__(self, cfg: ToyRecipe) -> None:
        gen = nn.Sequential(nn.Linear(cfg.latent, cfg.width), nn.Tanh(), nn.Linear(cfg.width, 1))
        disc = nn.Sequential(nn.Linear(1, cfg.width), nn.LeakyReLU(0.2), nn.Linear(cfg.width, 1))
        shared = dict(betas=tuple(cfg.betas), grad_clip=cfg.grad_clip, gamma=cfg.gamma)
        super().__init__(
            {"generator": gen, "discriminator": disc},
            {
                "discriminator": OptimiserSpec(
                    ["discriminator"], lr=cfg.d_lr, scheduler=cfg.d_scheduler, **shared
                ),
                "generator": OptimiserSpec(
                    ["generator"], lr=cfg.lr, scheduler=cfg.scheduler, every=cfg.n_critic, **shared
                ),
            },
            ema_decay=cfg.ema_decay,
        )
        self.cfg = cfg

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This batch's real samples and noise: a function of (seed, iteration) only."""
        g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.iteration)
        centres = 2.0 + 2.0 * torch.randint(0, 2, (n, 1), generator=g).float()
        real = centres + 0.25 * torch.randn(n, 1, generator=g)
        return real.to(self.device), torch.randn(n, self.cfg.latent, generator=g).to(self.device)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        real, z = self.draw(len(batch[0]))
        gen, disc = self.nets.generator, self.nets.discriminator
        fake = gen(z)
        d_loss = ((disc(real) - 1) ** 2).mean() + (disc(fake.detach()) ** 2).mean()
        self.step_optimiser("discriminator", d_loss)
        if self.due("generator"):
            self.step_optimiser("generator", ((disc(fake) - 1) ** 2).mean())

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        out = self.inference_net()(batch[0])
        self.log("val_mean", out.mean())
        self.log("val_gap", (out.mean() - TARGET_MEAN).abs())


def loaders(cfg: ToyRecipe) -> dict[str, DataLoader]:
    n = cfg.steps_per_epoch * cfg.batch_size
    val_z = torch.randn(64, cfg.latent, generator=torch.Generator().manual_seed(1))
    return {
        "train_dataloaders": DataLoader(TensorDataset(torch.arange(n)), batch_size=cfg.batch_size),
        "val_dataloaders": DataLoader(TensorDataset(val_z), batch_size=64),
    }


def toy_recipe(out: Path, **settings: Any) -> ToyRecipe:
    base: dict[str, Any] = dict(
        out_dir=str(out),
        batch_size=16,
        lr=1e-2,
        max_epochs=1000,
        accelerator="cpu",
        devices=1,
        threads=1,
        log_every_n_steps=1,
    )
    return ToyRecipe(**{**base, **settings}).validate()


def train(cfg: ToyRecipe, *, module_cls: type = ToyGAN, monitor: str | None = None, **kwargs: Any):
    run = start_run(cfg, default_dir=Path(cfg.out_dir), progress=False)
    module = module_cls(cfg)
    trainer = build_trainer(cfg, run, monitor=monitor, manual_optimization=True, **kwargs)
    fit(trainer, module, run, **loaders(cfg))
    return module, trainer, run


def ckpt(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Recursive equality of checkpoint contents (tensors bit-identical)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def generator_mean(module: ToyGAN, net: nn.Module | None = None) -> float:
    z = torch.randn(512, module.cfg.latent, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        return float((net or module.nets.generator)(z).mean())


# -- (a) it trains ---------------------------------------------------------------------------
def test_toy_gan_trains_and_logs_each_network(tmp_path):
    cfg = toy_recipe(tmp_path / "run", max_steps=120, seed=3)
    start = generator_mean(ToyGAN(cfg))
    module, trainer, run = train(cfg)
    end = generator_mean(module)
    assert trainer.global_step == 120  # one step per batch, though two optimisers step
    assert abs(end - TARGET_MEAN) < 0.5 * abs(start - TARGET_MEAN), (start, end)
    rows = list(csv.DictReader((run.path / "csv" / "version_0" / "metrics.csv").open()))
    for key in ("generator_loss", "discriminator_loss", "lr_generator", "lr_discriminator"):
        values = [float(r[key]) for r in rows if r.get(key)]
        assert values and all(torch.isfinite(torch.tensor(values))), key


def test_n_critic_steps_the_generator_every_nth_batch(tmp_path):
    cfg = toy_recipe(tmp_path / "run", max_steps=6, n_critic=3)
    module, trainer, _ = train(cfg)
    assert trainer.global_step == 6
    steps = {
        name: int(next(iter(module.optimiser(name).optimizer.state.values()))["step"])
        for name in ("generator", "discriminator")
    }
    assert steps == {"generator": 2, "discriminator": 6}


# -- (b) resume after a kill continues identically ------------------------------------------
RESUME = dict(
    max_steps=12,  # 3 epochs of 4 batches
    n_critic=2,
    ema_decay=0.9,
    grad_clip=0.5,
    scheduler="exponential",
    d_scheduler="cosine",
    checkpoint_every_n_steps=2,
    seed=5,
)
KILL_AT = 6  # mid-epoch (epoch 1, 2 of 4 batches done)


class HangAt(pl.Callback):
    """Stop making progress once ``global_step`` reaches ``step`` (its checkpoint is written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if trainer.global_step >= self.step:
            print("hanging", flush=True)
            time.sleep(600)


def _killed_run(run_dir: Path) -> dict[str, Any]:
    """Train in a subprocess until step KILL_AT is checkpointed, then SIGKILL it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, __file__, str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in proc.stdout:  # "hanging": the step-KILL_AT checkpoint is on disk
            if line.strip() == "hanging":
                break
        else:
            pytest.fail(f"training ended early: {proc.stderr.read()}")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return ckpt(run_dir)


# ~30 s on 2 CPU cores; resuming after a kill is tested fast for the shared engine
# (tests/training/test_training_resume.py).
@pytest.mark.slow
def test_resume_after_a_kill_continues_identically(tmp_path):
    killed = _killed_run(tmp_path / "b")
    assert killed["global_step"] == KILL_AT and killed["epoch"] == 1

    train(toy_recipe(tmp_path / "a", **RESUME))  # uninterrupted
    _, trainer, _ = train(toy_recipe(tmp_path / "b", resume=True, **RESUME))
    assert trainer.global_step == RESUME["max_steps"]
    a, b = ckpt(tmp_path / "a"), ckpt(tmp_path / "b")
    assert a["global_step"] == b["global_step"] == RESUME["max_steps"]
    for key in ("state_dict", "optimizer_states", "lr_schedulers"):
        assert_same(a[key], b[key], key)
    assert any(k.startswith("ema.module.") for k in a["state_dict"])
    # (c) the schedules stepped: exponential per epoch, cosine per discriminator step.
    d_sched, g_sched = a["lr_schedulers"]
    assert g_sched["last_epoch"] == 2 and g_sched["_last_lr"][0] == pytest.approx(1e-2 * 0.5**2)
    assert d_sched["last_epoch"] == 12 and d_sched["_last_lr"][0] == pytest.approx(0.0, abs=1e-12)
    assert killed["lr_schedulers"][1]["last_epoch"] == 1
    assert killed["lr_schedulers"][0]["last_epoch"] == KILL_AT


# -- (c) schedules, one epoch at a time -----------------------------------------------------
def test_per_optimiser_schedules(tmp_path):
    cfg = toy_recipe(tmp_path / "run", max_steps=8, scheduler="exponential", d_scheduler="cosine")
    module, _, run = train(cfg)
    rows = list(csv.DictReader((run.path / "csv" / "version_0" / "metrics.csv").open()))
    g_lr = [(int(r["step"]), float(r["lr_generator"])) for r in rows if r.get("lr_generator")]
    d_lr = [float(r["lr_discriminator"]) for r in rows if r.get("lr_discriminator")]
    # Epoch 0 at lr, epoch 1 at lr * gamma: the exponential schedule steps per epoch.
    assert [lr for step, lr in g_lr if step < 4] == pytest.approx([1e-2] * 4)
    assert [lr for step, lr in g_lr if step >= 4] == pytest.approx([5e-3] * 4)
    assert all(x > y for x, y in itertools.pairwise(d_lr)) and d_lr[-1] == pytest.approx(0.0)
    assert module.scheduler("discriminator").T_max == 8


# -- (d) gradient clipping -------------------------------------------------------------------
class RecordingGAN(ToyGAN):
    def __init__(self, cfg: ToyRecipe) -> None:
        super().__init__(cfg)
        self.norms: list[tuple[float, float]] = []

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        before = _grad_norm(optimizer)
        super().on_before_optimizer_step(optimizer)
        self.norms.append((before, _grad_norm(optimizer)))


def _grad_norm(optimizer: torch.optim.Optimizer) -> float:
    grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
    return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads if g is not None])))


@pytest.mark.parametrize("grad_clip", [0.0, 1e-3])
def test_gradient_clipping_when_grad_clip_is_set(tmp_path, grad_clip):
    module, _, _ = train(
        toy_recipe(tmp_path / "run", max_steps=3, grad_clip=grad_clip), module_cls=RecordingGAN
    )
    assert len(module.norms) == 6  # both optimisers, clipped one by one
    assert all(before > 1e-3 for before, _ in module.norms)
    if grad_clip:
        assert all(after == pytest.approx(grad_clip, rel=1e-4) for _, after in module.norms)
    else:
        assert all(after == before for before, after in module.norms)


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_steps_and_clips_true_gradients(tmp_path, precision):
    cfg = toy_recipe(tmp_path / "run", max_steps=3, grad_clip=1e-3)
    reference, _, _ = train(cfg, module_cls=RecordingGAN)
    kwargs: dict[str, Any] = {"precision": precision}
    if precision == "16-mixed":
        # The Trainer maps 16-mixed to bf16 on a CPU; the plugin gives fp16 autocast with a
        # GradScaler (scale 1024) as on a GPU, so the unscale-then-clip order is tested here.
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
        kwargs = {"precision": None, "plugins": [MixedPrecision("16-mixed", "cpu", scaler=scaler)]}
    cfg = toy_recipe(tmp_path / "mixed", max_steps=3, grad_clip=1e-3)
    module, trainer, _ = train(cfg, module_cls=RecordingGAN, **kwargs)
    assert trainer.global_step == 3 and len(module.norms) == 6
    # Clipping saw true (unscaled) gradients, within the low precision's error, and clipped.
    for (before, after), (before_32, _) in zip(module.norms, reference.norms, strict=True):
        assert before == pytest.approx(before_32, rel=0.05)
        assert after == pytest.approx(1e-3, rel=1e-3)
    assert all(torch.isfinite(p).all() for p in module.parameters())


# -- (e) EMA -------------------------------------------------------------------------------
def test_ema_decay_warms_up_and_its_count_round_trips() -> None:
    from torchmusic.training.adversarial import EMA

    net = torch.nn.Linear(2, 1)
    ema = EMA(net, 0.999)
    assert ema.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)
    # the first update moves the average 90 % of the way, not 0.1 %
    assert torch.allclose(ema.module.weight, torch.full((1, 2), 0.9), atol=0.08)
    for _ in range(9000):  # (1 + n) / (10 + n) passes 0.999 at n = 8991
        ema.update(net)
    assert ema.current_decay() == 0.999 and int(ema.updates) == 9001
    fresh = EMA(torch.nn.Linear(2, 1), 0.999)
    fresh.load_state_dict(ema.state_dict())
    assert int(fresh.updates) == 9001
    # a state dict without the count (written before the warm-up existed) loads as past it
    old = {k: v for k, v in ema.state_dict().items() if k != "updates"}
    fresh.load_state_dict(old)
    assert fresh.current_decay() == 0.999


def test_ema_is_what_validation_and_export_use(tmp_path):
    cfg = toy_recipe(tmp_path / "run", max_steps=8, ema_decay=0.9)
    module, trainer, run = train(cfg, monitor="val_gap")
    raw, ema = module.nets.generator, module.ema.module
    assert module.inference_net() is ema
    assert not all(
        torch.equal(p, q) for p, q in zip(raw.parameters(), ema.parameters(), strict=True)
    )
    val = trainer.validate(module, dataloaders=loaders(cfg)["val_dataloaders"], verbose=False)[0]
    z = next(iter(loaders(cfg)["val_dataloaders"]))[0]
    with torch.no_grad():
        assert val["val_mean"] == pytest.approx(float(ema(z).mean()), rel=1e-6)
        assert val["val_mean"] != pytest.approx(float(raw(z).mean()), rel=1e-6)

    # evaluate_best reloads the EMA from the best checkpoint; the export takes inference_net().
    for p in ema.parameters():
        p.data.zero_()
    metrics = evaluate_best(trainer, module, run, val_dataloaders=loaders(cfg)["val_dataloaders"])
    best = torch.load(run.path / "checkpoints" / metrics["best_checkpoint"], weights_only=True)
    prefix = "ema.module."
    stored = {k[len(prefix) :]: v for k, v in best["state_dict"].items() if k.startswith(prefix)}
    assert_same(dict(ema.state_dict()), stored)
    saved: dict[str, Any] = {}
    finish_run(
        trainer, run, metrics, export=lambda m: saved.update(module.inference_net().state_dict())
    )
    assert_same(saved, stored)


if __name__ == "__main__":  # the killed run of the resume test
    train(toy_recipe(Path(sys.argv[1]), **RESUME), callbacks=[HangAt(KILL_AT)])


def test_throughput_counts_examples_of_any_batch_shape():
    from torchmusic.training.engine import batch_size

    x = torch.zeros(3, 100)
    assert batch_size(x) == batch_size([x, x]) == batch_size({"audio": x, "mel": x[:, :5]}) == 3
