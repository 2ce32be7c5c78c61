"""``train_pianoroll``: JSB Chorales JSON -> piano-roll model file, through Lightning.

The exact-likelihood :class:`~torchmusic.models.symbolic.pianoroll.PianoRollModel`
is trained to minimise the negative log-likelihood in nats per frame (the quantity
reported by the Boulanger-Lewandowski protocol), with early stopping and
best-checkpoint selection on the validation NLL, and a wall-clock budget
(``max_minutes``) so a run fits a fixed CPU budget. A run folder holds::

    run_dir/
      config.yaml                 the full configuration (checked on resume)
      checkpoints/last.ckpt       refreshed every epoch (resume point)
      checkpoints/best-*.ckpt     best epoch by validation NLL
      csv/version_K/metrics.csv   one CSV per attempt (a resume starts a new one)
      metrics.json                valid/test NLL of the best checkpoint, minutes, epochs
      model.safetensors           the exported generator file (kind "pianoroll")

Example (the command line does the same with ``torchmusic train lm --model pianoroll``)::

    cfg = PianoRollTrainConfig.from_sources(
        config="configs/jsb.yaml", data="jsb-chorales-quarter.json", out_dir="runs/jsb"
    )
    result = train_pianoroll(cfg)
    result.metrics["test_nll"]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

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
from torchmusic.training.pianoroll.data import JSBData, load_pianoroll_data
from torchmusic.training.pianoroll.module import PianoRollModule
from torchmusic.training.pianoroll.settings import PianoRollTrainConfig


class PianoRollResult(RunResult):
    """Outcome of :func:`train_pianoroll` (see :class:`RunResult`).

    ``metrics`` holds ``val_nll`` / ``test_nll`` (nats per frame, best checkpoint),
    ``train_minutes``, ``epochs_trained``, ``best_epoch``, ``global_step``,
    ``parameters``. The model file loads with ``load_generator(kind="pianoroll")``.
    """


# -- the job ------------------------------------------------------------------------------
def train_pianoroll(cfg: PianoRollTrainConfig, *, progress: bool = True) -> PianoRollResult:
    """Train a piano-roll model and export the best checkpoint (by validation NLL).

    Parameters
    ----------
    cfg : PianoRollTrainConfig
        All settings.
    progress : bool
        Progress bars and the model summary.

    Returns
    -------
    PianoRollResult
        ``model_file`` (``run_dir/model.safetensors``), ``run_dir``, ``metrics``.

    Raises
    ------
    ParameterError
        Invalid settings, or ``resume`` with settings that differ from the run's.
    DataError
        Unreadable data, or a run folder that already holds a run while ``resume``
        is False.

    Notes
    -----
    The NLL is computed on whole pieces from their first frame (conditioned on
    an empty past), so ``val_nll`` / ``test_nll`` are exactly the protocol's
    nats per frame. ``max_minutes`` bounds training plus validation wall time;
    Lightning's timer is saved in checkpoints, so a resumed run only gets what
    is left of the budget. Checkpoints load with ``torch.load(weights_only=True)``.

    Examples
    --------
    >>> cfg = PianoRollTrainConfig(data="jsb-chorales-quarter.json", max_minutes=30)
    >>> train_pianoroll(cfg).metrics["test_nll"]  # doctest: +SKIP
    5.9
    """
    from torchmusic.models.symbolic.pianoroll import (
        PianoRollConfig,
        PianoRollModel,
        count_parameters,
    )

    if not isinstance(cfg, PianoRollTrainConfig):
        raise ParameterError(f"cfg must be a PianoRollTrainConfig, got {type(cfg).__name__}")
    cfg = cfg.validate().with_absolute_paths()
    run = start_run(
        cfg, default_dir=Path("runs") / f"{Path(cfg.data).stem}-pianoroll", progress=progress
    )
    splits = load_pianoroll_data(cfg.data)
    model = PianoRollModel(PianoRollConfig(**cfg.model_config))
    if run.resume_from is None:  # a resumed run restores its own weights
        model.init_key_bias(splits["train"])
    module = PianoRollModule(
        model,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        scheduler=cfg.scheduler,
        lr_patience=cfg.lr_patience,
        max_epochs=cfg.max_epochs,
        transpose=cfg.transpose,
        train_config=cfg.to_dict(),
    )
    data = JSBData(splits, batch_size=cfg.batch_size, seed=cfg.seed)
    trainer = build_trainer(
        cfg,
        run,
        monitor="val_nll",
        tensorboard=False,
        use_distributed_sampler=False,  # LengthBatches shards batches itself
    )
    fit(trainer, module, run, datamodule=data)
    test = cfg.test_after_fit and bool(data.splits["test"].pieces)
    metrics = evaluate_best(trainer, module, run, datamodule=data, test=test)
    metrics.update(
        best_epoch=_epoch_of(metrics["best_checkpoint"]),
        parameters=count_parameters(module.model),
        threads=torch.get_num_threads(),
        frames={k: int(sum(len(p) for p in v.pieces)) for k, v in data.splits.items()},
    )
    finish_run(trainer, run, metrics, export=lambda m: _export(cfg, module, run.model_file, m))
    return PianoRollResult(model_file=run.model_file, run_dir=run.path, metrics=metrics)


def _epoch_of(ckpt: str) -> int | None:
    stem = Path(ckpt).stem
    return int(stem.split("-")[-1]) if stem.startswith("best-") else None


def _export(
    cfg: PianoRollTrainConfig, module: PianoRollModule, path: Path, metrics: dict[str, Any]
) -> Path:
    from torchmusic.models.symbolic.genfile import GeneratorSpec, save_generator

    model = module.model.to("cpu").float().eval()
    spec = GeneratorSpec(
        architecture="pianoroll",
        model_config={},  # filled from model.config
        tokenizer=None,
        conditions=None,
        kind="pianoroll",
        metrics=plain_metrics(metrics),
        extra={
            "train_config": cfg.to_dict(),
            "data": Path(cfg.data).name,
            "nll_protocol": "nats per frame, summed over 88 keys (MIDI 21..108), averaged "
            "over all frames; first frame conditioned on an empty past",
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    return save_generator(path, model, spec)
