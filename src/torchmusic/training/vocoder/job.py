"""``train_vocoder``: audio folder or manifest -> vocoder model file, on the shared engine.

A run folder holds::

    run_dir/
      config.yaml                 the full configuration (checked on --resume)
      data.json                   the tracks of each split, skipped files
      checkpoints/last.ckpt       generator, discriminators, optimisers (every epoch /
                                  every N steps): a killed run resumes from it
      checkpoints/best-*.ckpt     lowest validation log-mel L1
      csv/version_K/metrics.csv   losses per step, validation figures per epoch
      validation/epoch-NNN/       audio and spectrogram PNGs of held-out segments
      metrics.json                validation figures of the exported generator
      model.safetensors           the vocoder model file (``torchmusic.vocoder``)

The same function runs plain, on one GPU (bf16) or under DDP (``--devices N
--strategy ddp_find_unused_parameters_true``: the generator's loss reaches the
discriminators' parameters only through the graph).
"""

from __future__ import annotations

import os
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
from torchmusic.training.vocoder.settings import VocoderTrainConfig


class VocoderTrainResult(RunResult):
    """Outcome of :func:`train_vocoder` (see :class:`RunResult`)."""


def build_generator(cfg: VocoderTrainConfig) -> Any:
    """The generator of ``cfg.model`` sized for the run's log-mel."""
    from torchmusic.models.vocoder import VOCODER_REGISTRY

    feature = cfg.feature_config()
    settings = dict(cfg.model_config)
    settings.setdefault("n_mels", feature.n_mels)
    settings.setdefault("hop_length", feature.hop_length)
    preset = settings.pop("preset", None)
    config_cls, model_cls = VOCODER_REGISTRY.get(cfg.model)
    if preset is not None:
        if not hasattr(config_cls, "preset"):
            raise ParameterError(f"model_config.preset={preset!r}: {cfg.model} has no presets")
        base = config_cls.preset(
            preset, hop_length=settings.pop("hop_length"), n_mels=settings.pop("n_mels")
        )
        import dataclasses

        config = dataclasses.replace(base, **settings)
    else:
        config = VOCODER_REGISTRY.make_config(cfg.model, settings)
    return model_cls(config)


def train_vocoder(cfg: VocoderTrainConfig, *, progress: bool = True) -> VocoderTrainResult:
    """Train a vocoder on real audio and export the best generator.

    Parameters
    ----------
    cfg : VocoderTrainConfig
    progress : bool
        Progress bars and summaries.

    Returns
    -------
    VocoderTrainResult
        ``model_file`` (``run_dir/model.safetensors``) for ``torchmusic vocode
        --model`` and :func:`torchmusic.serve.vocode.load_vocoder`.

    Raises
    ------
    ParameterError
        Invalid settings, or ``resume`` with settings that differ from the run's.
    DataError
        No readable audio, or a run folder that already holds a run.

    Examples
    --------
    >>> cfg = VocoderTrainConfig(data="music/", model="vocos", max_steps=2000)
    >>> train_vocoder(cfg).model_file  # doctest: +SKIP
    PosixPath('runs/music-vocos/model.safetensors')
    """
    from torchmusic.models.vocoder.vocoderfile import VocoderSpec, save_vocoder
    from torchmusic.training.engine import resolve_accelerator
    from torchmusic.training.vocoder.data import VocoderData
    from torchmusic.training.vocoder.module import VocoderModule

    if not isinstance(cfg, VocoderTrainConfig):
        raise ParameterError(f"cfg must be a VocoderTrainConfig, got {type(cfg).__name__}")
    cfg = cfg.validate().with_absolute_paths()
    first = Path(cfg.data if isinstance(cfg.data, str) else cfg.data[0])
    on_gpu = resolve_accelerator(cfg.accelerator) in ("gpu", "cuda")
    # Data first: a refused data set leaves no run folder behind.
    data = VocoderData(cfg, on_gpu=on_gpu)
    generator = build_generator(cfg)
    if cfg.init_from and not cfg.resume:  # a resumed run has its own weights
        _initialise(generator, cfg)  # (a refused file leaves no run folder either)
    run = start_run(
        cfg, default_dir=Path("runs") / f"{first.stem or first.name}-{cfg.model}", progress=progress
    )
    module = VocoderModule(generator, cfg, run_dir=run.path)
    train_loader, val_loader = data.train_loader(), data.val_loader()
    monitor = "val_mel_l1" if val_loader is not None else None
    trainer = build_trainer(
        cfg, run, monitor=monitor, mode="min", manual_optimization=True, tensorboard=False
    )
    fit(trainer, module, run, train_dataloaders=train_loader, val_dataloaders=val_loader)
    metrics = evaluate_best(trainer, module, run, val_dataloaders=val_loader)
    metrics.update(
        tracks={name: len(paths) for name, paths in data.parts.items()},
        adversarial_steps=max(0, int(trainer.global_step) - int(cfg.adversarial_after))
        if cfg.adversarial
        else 0,
    )
    licences = _licences(cfg)

    def export(m: dict[str, Any]) -> None:
        net = module.inference_net().to("cpu").float().eval()
        spec = VocoderSpec(
            architecture=cfg.model,
            model_config={},
            feature=cfg.feature_config().to_dict(),
            metrics=plain_metrics(m),
            extra={
                "train_config": cfg.to_dict(),
                "tracks": {name: len(paths) for name, paths in data.parts.items()},
                "training_data_licences": licences,
            },
        )
        save_vocoder(run.model_file, net, spec)

    data_json = {
        **{name: paths for name, paths in data.parts.items()},
        "skipped": [{"path": p, "error": e} for p, e in data.failed],
    }
    finish_run(trainer, run, metrics, export=export, files={"data.json": data_json})
    return VocoderTrainResult(
        model_file=run.model_file, run_dir=run.path, metrics=metrics, skipped=data.failed
    )


def _licences(cfg: VocoderTrainConfig) -> str | None:
    """The text of a ``LICENSES.md`` beside the data's manifest, if there is one."""
    items = [cfg.data] if isinstance(cfg.data, str) else list(cfg.data or [])
    for item in items:
        p = Path(item)
        folder = p.parent if p.is_file() else p
        candidate = folder / "LICENSES.md"
        if candidate.is_file() and os.path.getsize(candidate) < 200_000:
            return candidate.read_text(encoding="utf-8", errors="replace")
    return None


def _initialise(generator: Any, cfg: VocoderTrainConfig) -> None:
    """Copy the generator weights of the vocoder file ``cfg.init_from`` into ``generator``."""
    from torchmusic.models.vocoder.vocoderfile import check_mel_settings, load_vocoder_file

    source, spec = load_vocoder_file(cfg.init_from)
    if spec.architecture != cfg.model or source.config != generator.config:
        raise ParameterError(
            f"init_from={cfg.init_from!r} is a {spec.architecture} with settings "
            f"{source.config}, but this run builds a {cfg.model} with {generator.config}; "
            "set model and model_config to the file's"
        )
    check_mel_settings(spec.feature_config(), cfg.feature_config())
    generator.load_state_dict(source.state_dict())
