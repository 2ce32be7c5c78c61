"""``train_denoiser``: clean music + noise -> denoiser model file, on the shared engine.

A run folder holds::

    run_dir/
      config.yaml                 the full configuration (checked on --resume)
      data.json                   tracks and noise files of each split, skipped files
      checkpoints/last.ckpt       network and optimiser (every epoch / every N steps):
                                  a killed run resumes from it
      checkpoints/best-*.ckpt     highest validation SI-SDR
      csv/version_K/metrics.csv   losses per step, validation figures per epoch
      validation/epoch-NNN/       noisy / clean / denoised WAVs of held-out pairs
      metrics.json                validation figures of the exported network
      model.safetensors           the denoiser model file (``torchmusic.denoiser``)

The same function runs plain, on one GPU (bf16 autocast; STFTs, masks and losses stay
in float32) or under DDP (``--devices N``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from torchmusic.errors import ParameterError
from torchmusic.training.denoise.settings import DenoiseTrainConfig
from torchmusic.training.engine import (
    RunResult,
    build_trainer,
    evaluate_best,
    finish_run,
    fit,
    plain_metrics,
    start_run,
)


class DenoiseTrainResult(RunResult):
    """Outcome of :func:`train_denoiser` (see :class:`RunResult`)."""


def build_network(cfg: DenoiseTrainConfig) -> Any:
    """The network of ``cfg.model`` / ``cfg.model_config`` (preset plus overrides)."""
    from torchmusic.models.denoise.registry import DENOISER_REGISTRY

    _, model_cls = DENOISER_REGISTRY.get(cfg.model)
    return model_cls(cfg.network_config())


def train_denoiser(cfg: DenoiseTrainConfig, *, progress: bool = True) -> DenoiseTrainResult:
    """Train a music denoiser on noisy / clean pairs made on the fly; export the best.

    Parameters
    ----------
    cfg : DenoiseTrainConfig
    progress : bool
        Progress bars and summaries.

    Returns
    -------
    DenoiseTrainResult
        ``model_file`` (``run_dir/model.safetensors``) for ``torchmusic denoise
        --model`` and :class:`torchmusic.serve.denoise.Denoiser`; ``metrics`` with
        ``val_si_sdr`` / ``val_si_sdri`` of the exported network.

    Raises
    ------
    ParameterError
        Invalid settings, or ``resume`` with settings that differ from the run's.
    DataError
        No readable music, no noise, or a run folder that already holds a run.

    Examples
    --------
    >>> cfg = DenoiseTrainConfig(clean="music/", noise="../shared/data/noise", max_steps=2000)
    >>> train_denoiser(cfg).model_file  # doctest: +SKIP
    PosixPath('runs/music-unet/model.safetensors')
    """
    from torchmusic.models.denoise.denoiserfile import DenoiserSpec, save_denoiser
    from torchmusic.training.denoise.data import DenoiseData
    from torchmusic.training.denoise.module import DenoiseModule
    from torchmusic.training.engine import resolve_accelerator

    if not isinstance(cfg, DenoiseTrainConfig):
        raise ParameterError(f"cfg must be a DenoiseTrainConfig, got {type(cfg).__name__}")
    cfg = cfg.validate().with_absolute_paths()
    first = Path(cfg.clean if isinstance(cfg.clean, str) else cfg.clean[0])
    on_gpu = resolve_accelerator(cfg.accelerator) in ("gpu", "cuda")
    # Data first: a refused data set leaves no run folder behind.
    data = DenoiseData(cfg, on_gpu=on_gpu)
    net = build_network(cfg)
    if cfg.init_from and not cfg.resume:  # a resumed run has its own weights
        _initialise(net, cfg.init_from)
    run = start_run(
        cfg, default_dir=Path("runs") / f"{first.stem or first.name}-{cfg.model}", progress=progress
    )
    module = DenoiseModule(net, cfg, run_dir=run.path)
    train_loader, val_loader = data.train_loader(), data.val_loader()
    monitor = "val_si_sdr" if val_loader is not None else None
    trainer = build_trainer(cfg, run, monitor=monitor, mode="max", tensorboard=False)
    fit(trainer, module, run, train_dataloaders=train_loader, val_dataloaders=val_loader)
    metrics = evaluate_best(trainer, module, run, val_dataloaders=val_loader)
    tracks = {name: len(paths) for name, paths in data.parts.items()}
    noise = {name: sorted({f.kind for f in files}) for name, files in data.noise.items()}
    metrics.update(tracks=tracks)
    licences = _licences(cfg)

    def export(m: dict[str, Any]) -> None:
        net = module.net.to("cpu").float().eval()
        spec = DenoiserSpec(
            architecture=cfg.model,
            model_config={},
            sample_rate=cfg.sr,
            metrics=plain_metrics(m),
            extra={
                "train_config": cfg.to_dict(),
                "tracks": tracks,
                "noise_kinds": {**noise, "synthetic": list(cfg.synthetic_noise)},
                "training_data_licences": licences,
            },
        )
        save_denoiser(run.model_file, net, spec)

    finish_run(trainer, run, metrics, export=export, files={"data.json": data.summary()})
    return DenoiseTrainResult(
        model_file=run.model_file, run_dir=run.path, metrics=metrics, skipped=data.failed
    )


def _initialise(net: Any, model: str) -> None:
    """Copy the weights of the denoiser file ``model`` into ``net`` (same settings).

    One difference is allowed: a file without the noise-floor input (``noise_floor_frames``
    0) may start a run with it. The stem gets zero weights for the new channel, so the
    network starts out computing exactly what the file computes.
    """
    import torch

    from torchmusic.models.denoise.denoiserfile import load_denoiser_file

    source, _ = load_denoiser_file(model)
    frames = net.config.noise_floor_frames
    widen = (
        source.config.noise_floor_frames == 0
        and frames > 0
        and dataclasses.replace(source.config, noise_floor_frames=frames) == net.config
    )
    if not (widen or source.config == net.config):
        raise ParameterError(
            f"init_from={model!r} has network settings {source.config}, but this run builds "
            f"{net.config}; set model_config to the file's settings (a file without the "
            "noise-floor input may only add one, noise_floor_frames > 0)"
        )
    state = source.state_dict()
    if widen:
        weight = state["stem.0.weight"]  # (out, 3, kf, 3): add the floor channel, silent
        state["stem.0.weight"] = torch.cat([weight, weight.new_zeros(weight[:, :1].shape)], 1)
    net.load_state_dict(state)


def _licences(cfg: DenoiseTrainConfig) -> dict[str, str]:
    """Texts of ``LICENSES.md`` / ``README.md`` / ``LICENSE`` beside the music and the noise."""
    out: dict[str, str] = {}
    items = [cfg.clean] if isinstance(cfg.clean, str) else list(cfg.clean or [])
    places = [("clean", Path(i)) for i in items] + (
        [("noise", Path(cfg.noise))] if cfg.noise else []
    )
    for label, p in places:
        folder = p.parent if p.is_file() else p
        for name in ("LICENSES.md", "LICENSE", "README.md"):
            candidate = folder / name
            if candidate.is_file() and os.path.getsize(candidate) < 200_000:
                out.setdefault(label, candidate.read_text(encoding="utf-8", errors="replace"))
                break
    return out
