"""Settings of piano-roll training (JSB Chorales): a torch-free :class:`RunRecipe`."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from torchmusic.errors import ParameterError
from torchmusic.training.recipe import RunRecipe

SCHEDULERS = ("plateau", "cosine", "none")
# Settings that define what a run learns: a resume must not change them.
IDENTITY_KEYS = ("data", "model_config", "transpose", "seed")


@dataclasses.dataclass
class PianoRollTrainConfig(RunRecipe):
    """Everything a piano-roll training run needs.

    Parameters
    ----------
    data : str
        JSB Chorales JSON file (``{"train","valid","test"}`` -> pieces -> frames ->
        MIDI pitches), e.g. ``jsb-chorales-quarter.json``.
    model_config : dict
        Fields of :class:`~torchmusic.models.symbolic.pianoroll.PianoRollConfig`.
    batch_size : int
        Pieces per batch (whole pieces: batches group pieces of similar length).
    max_epochs : int
        Upper bound on epochs (``max_minutes`` and ``patience`` usually stop first).
    max_minutes : float or None
        Wall-clock training budget (training + validation, kept across resumes);
        the best checkpoint so far is exported when it runs out. None: no budget.
    lr, weight_decay : float
        AdamW settings.
    grad_clip : float
        Gradient-norm clipping (0: off).
    scheduler : {"plateau", "cosine", "none"}
        Halve the learning rate after ``lr_patience`` epochs without a better
        validation NLL, cosine decay over ``max_epochs``, or constant.
    lr_patience : int
        Epochs without improvement before ``"plateau"`` halves the learning rate.
    patience : int
        Early stopping after this many epochs without improvement (0: off).
    transpose : int
        Training pieces are transposed by a random shift in ``-transpose..transpose``
        semitones, per piece and epoch, clipped so no note leaves the keyboard
        (0: off). Validation and test pieces are never transposed.
    seed : int
        Seeds initialisation, batch order and transpositions.
    out_dir : str or None
        Run folder (default ``runs/<data name>-pianoroll``).
    threads : int or None
        ``torch.set_num_threads`` for the run (None: torch's default).
    accelerator, devices, num_nodes, strategy, precision
        Passed to :class:`lightning.pytorch.Trainer` (precision None: fp32 on CPU,
        mixed precision on GPU).
    resume : bool
        Continue the run in ``out_dir`` from its ``last.ckpt``.
    test_after_fit : bool
        Score the best checkpoint on the test split.
    log_every_n_steps : int
        Logging interval of the training loss.
    """

    data: str | None = None
    model: str = "pianoroll"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    batch_size: int = 16
    max_epochs: int = 500
    max_minutes: float | None = 30.0
    lr: float = 2e-3
    grad_clip: float = 5.0
    scheduler: str = "plateau"
    lr_patience: int = 3
    patience: int = 10
    transpose: int = 0

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("data", "out_dir")
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = IDENTITY_KEYS
    SCHEDULERS: ClassVar[tuple[str, ...]] = SCHEDULERS

    def validate(self) -> PianoRollTrainConfig:
        """Check ranges (and the model settings); returns self."""
        from torchmusic.models.symbolic.pianoroll import PianoRollConfig

        if not self.data:
            raise ParameterError("data is not set: give --data JSB.json")
        if self.model != "pianoroll":
            raise ParameterError(f"model={self.model!r}: this trainer only trains 'pianoroll'")
        super().validate()
        for name in ("lr_patience", "transpose"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be >= 0")
        unknown = set(self.model_config) - {f.name for f in dataclasses.fields(PianoRollConfig)}
        if unknown:
            raise ParameterError(f"unknown model_config key(s) {sorted(unknown)} for pianoroll")
        PianoRollConfig(**self.model_config)
        return self
