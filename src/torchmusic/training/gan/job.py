"""``train_gan``: drum folder or manifest -> GAN model file, on the shared engine.

A run folder holds::

    run_dir/
      config.yaml                 the full configuration (checked on --resume)
      data.json                   clips per class, the files used, skipped files
      checkpoints/last.ckpt       generator, critic, EMA, both optimisers (every epoch /
                                  every N steps): a killed run resumes from it
      csv/version_K/metrics.csv   losses per step (critic, generator, Wasserstein, GP)
      samples/step-NNNNNN/        fixed-latent grids: a WAV per sound + grid.png
      metrics.json                the run's bookkeeping
      model.safetensors           the GAN model file (``torchmusic.gan``): EMA generator

There is no validation metric (a GAN's losses do not say how good it sounds): the
last checkpoint is exported; ``benchmarks/`` scores model files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torchmusic.errors import ParameterError
from torchmusic.training.engine import (
    RunResult,
    build_trainer,
    evaluate_best,
    finish_run,
    fit,
    plain_metrics,
    start_run,
)
from torchmusic.training.gan.settings import GanTrainConfig


class GanTrainResult(RunResult):
    """Outcome of :func:`train_gan` (see :class:`RunResult`)."""


def build_networks(cfg: GanTrainConfig, n_classes: int) -> tuple[Any, Any]:
    """``(generator, discriminator)`` of ``cfg.model`` with the run's classes and rate."""
    from torchmusic.models.gan import build_gan

    settings = dict(cfg.model_config)
    settings.update(n_classes=n_classes, sample_rate=cfg.sample_rate)
    return build_gan(cfg.model, **settings)


def train_gan(cfg: GanTrainConfig, *, progress: bool = True) -> GanTrainResult:
    """Train a WaveGAN or SpecGAN on one-shot sounds and export its (EMA) generator.

    Parameters
    ----------
    cfg : GanTrainConfig
    progress : bool
        Progress bars and summaries.

    Returns
    -------
    GanTrainResult
        ``model_file`` (``run_dir/model.safetensors``) for ``torchmusic synthesize
        --model`` and :func:`torchmusic.serve.synthesize.load_gan`; ``skipped``
        lists the files left out.

    Raises
    ------
    ParameterError
        Invalid settings, or ``resume`` with settings that differ from the run's.
    DataError
        No usable audio, a conditional run with fewer than two classes, or a run
        folder that already holds a run.

    Examples
    --------
    >>> cfg = GanTrainConfig(data="drums/", conditional=True, max_steps=2000)
    >>> train_gan(cfg).model_file  # doctest: +SKIP
    PosixPath('runs/drums-wavegan/model.safetensors')
    """
    from torchmusic.models.gan.ganfile import GanSpec, save_gan
    from torchmusic.training.engine import resolve_accelerator
    from torchmusic.training.gan.data import clip_length, list_sources, load_hits
    from torchmusic.training.gan.module import GanModule

    if not isinstance(cfg, GanTrainConfig):
        raise ParameterError(f"cfg must be a GanTrainConfig, got {type(cfg).__name__}")
    cfg = cfg.validate().with_absolute_paths()
    # The networks' sizes first (a bad model_config is refused before any decoding),
    # then the data: a refused data set leaves no run folder behind.
    _, classes, _ = list_sources(cfg)
    generator, discriminator = build_networks(cfg, len(classes))
    data = load_hits(cfg, clip_length(cfg.model, generator.config))
    first = Path(str(cfg.data))
    run = start_run(
        cfg, default_dir=Path("runs") / f"{first.stem or first.name}-{cfg.model}", progress=progress
    )
    # Seeded by start_run: the same seed gives the same initial weights.
    generator, discriminator = build_networks(cfg, len(classes))
    module = GanModule(generator, discriminator, cfg, classes=data.classes, run_dir=run.path)
    on_gpu = resolve_accelerator(cfg.accelerator) in ("gpu", "cuda")
    workers = cfg.num_workers if cfg.num_workers is not None else (2 if on_gpu else 0)
    loader = data.loader(cfg.batch_size, workers=workers)
    trainer = build_trainer(cfg, run, monitor=None, manual_optimization=True, tensorboard=False)
    fit(trainer, module, run, train_dataloaders=loader)
    metrics = evaluate_best(trainer, module, run)
    counts = data.counts()
    metrics.update(
        clips=int(data.audio.shape[0]),
        clips_padded=data.padded,
        skipped_files=len(data.failed),
        generator_steps=int(trainer.global_step) // cfg.n_critic,
    )

    def export(m: dict[str, Any]) -> None:
        net = module.inference_net().to("cpu").float().eval()
        spec = GanSpec(
            architecture=cfg.model,
            model_config={},
            labels=list(data.classes),
            sample_rate=cfg.sample_rate,
            feature=module.feature.to_dict(),
            vocoder=cfg.vocoder,
            metrics=plain_metrics(m),
            extra={
                "train_config": cfg.to_dict(),
                "clips_per_class": counts,
                "ema": bool(cfg.ema_decay),
                "normalize": cfg.normalize,
                "peak": cfg.peak,
            },
        )
        save_gan(run.model_file, net, spec)

    data_json = {
        "classes": data.classes,
        "clips_per_class": counts,
        "held_out_rows": data.held_out,
        "padded": data.padded,
        "train": data.paths,
        "skipped": [{"path": p, "error": e} for p, e in data.failed],
    }
    finish_run(trainer, run, metrics, export=export, files={"data.json": data_json})
    return GanTrainResult(
        model_file=run.model_file, run_dir=run.path, metrics=metrics, skipped=data.failed
    )
