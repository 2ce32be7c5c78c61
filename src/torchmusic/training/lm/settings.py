"""Settings of token language-model and VAE training: one dataclass, YAML + overrides.

Precedence (later wins), as for :class:`~torchmusic.training.classify.settings.TrainConfig`:
the dataclass defaults, the recipe (``--config configs/folk.yaml``), explicit
keyword arguments (the CLI's named flags), then ``--key value`` overrides. Dotted
keys reach into the dict-valued settings (``--model_config.n_layer 4``,
``--tokenizer_params.use_velocities true``). Values are parsed as YAML scalars and
type-checked; unknown keys are an error that suggests the closest known key.

This module imports neither torch nor Lightning, so building and checking a
configuration is instant.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from torchmusic.errors import ParameterError
from torchmusic.training.recipe import RunRecipe, coerce

#: Token models this trainer builds (``pianoroll`` has its own trainer).
LM_ARCHITECTURES = ("transformer", "lstm", "vae")
SCHEDULERS = ("cosine", "none")
# Settings that define what a run learns: a resume must not change them.
IDENTITY_KEYS = (
    "data",
    "select",
    "model",
    "model_config",
    "tokenizer",
    "tokenizer_params",
    "conditions",
    "condition_min_count",
    "seq_len",
    "seed",
)


@dataclasses.dataclass
class LMTrainConfig(RunRecipe):
    """Everything a token language-model (or token VAE) training run needs.

    Parameters
    ----------
    data : str
        A folk corpus folder (``metadata.csv`` gives splits and condition values,
        see ``torchmusic datasets build folk``) or any folder of MIDI files
        (split 80/10/10 by a seeded hash of each file's path).
    select : dict of str to list of str
        Keep only the pieces whose metadata column has one of the listed values,
        e.g. ``{"collection": ["oneills", "ryans", "aird"]}`` (needs a folk corpus).
    model : {"transformer", "lstm", "vae"}
        Architecture (:mod:`torchmusic.models.symbolic`).
    model_config : dict
        Fields of its config, e.g. ``{"n_layer": 4, "n_embd": 256}``. ``vocab_size``
        is set from the tokenizer and conditions; the Transformer's ``block_size``
        and the VAE's ``seq_len`` default to ``seq_len``. Empty (the default) for
        the Transformer: sized to the data and the compute
        (:func:`~torchmusic.training.lm.job.auto_model_config`: at most 4 block
        weights per training token, and at least 500 steps within ``max_minutes``
        by a timed probe); the choice is printed and recorded in ``data.json``,
        ``auto_model.json``, ``metrics.json`` (``model_size``) and the model file.
    tokenizer : {"REMI", "TSD", "MIDILike", "Structured"}
        miditok tokenization (:func:`torchmusic.symbolic.build_tokenizer`).
    tokenizer_params : dict
        Overrides of the tokenizer defaults (any ``miditok.TokenizerConfig`` field).
    conditions : list of str
        Metadata columns turned into condition tokens before the music (e.g.
        ``["tune_type", "key", "meter"]``); needs a folk corpus. Not for the VAE.
    condition_min_count : int
        Condition values seen on fewer training pieces are left out of the
        vocabulary (those pieces get "any" for that field).
    condition_dropout : float
        Probability of replacing each condition by "any" in a training window, so
        the model also generates without that condition.
    seq_len : int
        Training window (tokens of context; default 256, about one folk tune).
        Longer pieces are cut into windows (random ones in training, consecutive
        ones in evaluation); generation slides past it.
    transpose : int
        Random transposition of training windows by up to this many semitones
        (a ``key`` condition moves with the notes; 0: off).
    max_tokens : int or None
        Cap on the tokens kept of each piece (its beginning): extremely long files
        are truncated to this, then cut into windows.
    batch_size, lr, weight_decay : number
        AdamW settings (decoupled weight decay). ``lr`` None (the default):
        ``2e-3 * 128 / n_embd`` for a Transformer (at most 2e-3: 1e-3 at 256 wide),
        1e-3 for the other models.
    max_epochs, max_steps : int
        Upper bounds on training (``max_steps`` None: no bound).
    max_minutes : float or None
        Wall-clock budget of training + validation, kept across resumes; the best
        checkpoint so far is exported when it runs out.
    val_every_n_steps : int or None
        Validate every N optimizer steps instead of at each epoch's end (long epochs).
    val_pieces : int or None
        Validate during training on this many validation pieces (a seeded random
        choice) to save time; the final valid/test figures always use every piece.
    warmup_steps : int or None
        Linear learning-rate warm-up over this many steps; None (the default): over
        the first 5 % of the run, measured like the cosine below (its steps, or the
        elapsed share of ``max_minutes``, whichever is further along), so the
        warm-up scales with what the budget allows.
    scheduler : {"cosine", "none"}
        Cosine decay to 10% of ``lr`` over the run's steps after warm-up, or constant.
        With ``max_minutes`` the decay follows whichever is further along: the steps
        or the elapsed share of the time budget.
    grad_clip : float
        Gradient-norm clipping (0: off).
    beta, kl_anneal_steps, free_bits : number
        VAE only: final KL weight, steps of its linear ramp from 0, and the KL
        allowance per sequence in bits that is not penalised.
    patience : int
        Early stopping after this many validations without improvement (0: off).
    seed : int
        Seeds the hash split (MIDI folders), initialisation, windows and augmentation.
    out_dir : str or None
        Run folder (default ``runs/<data name>-<model>``).
    token_cache : str or None
        ``.npz`` file of the tokenised corpus (reused when it matches the corpus and
        tokenizer, else rewritten); default ``<run folder>/tokens.npz``.
    tokenize_workers : int or None
        Processes tokenising the corpus (None: CPU count).
    threads : int or None
        ``torch.set_num_threads`` for the run (None: torch's default; with the
        auto-sized Transformer on CPU, 1 or torch's default, whichever a short
        timed probe finds faster).
    accelerator, devices, num_nodes, strategy, precision
        Passed to :class:`lightning.pytorch.Trainer` (precision None: fp32 on CPU,
        mixed precision on GPU).
    num_workers : int
        DataLoader workers (windows are cut from in-memory arrays: 0 is fine on CPU).
    resume : bool
        Continue the run in ``out_dir`` from its ``checkpoints/last.ckpt``.
    checkpoint_every_n_steps : int or None
        Also refresh ``last.ckpt`` every N steps (a kill loses at most N steps).
    test_after_fit : bool
        Score the best checkpoint on the test split.
    log_every_n_steps : int
        Logging interval of the training loss.
    """

    data: str | None = None
    select: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    model: str = "transformer"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    tokenizer: str = "REMI"
    tokenizer_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    conditions: list[str] = dataclasses.field(default_factory=list)
    condition_min_count: int = 5
    condition_dropout: float = 0.1
    seq_len: int = 256
    transpose: int = 0
    max_tokens: int | None = None
    batch_size: int = 16
    lr: float | None = None
    max_epochs: int = 50
    val_every_n_steps: int | None = None
    val_pieces: int | None = None
    weight_decay: float = 0.01
    warmup_steps: int | None = None
    grad_clip: float = 1.0
    beta: float = 1.0
    kl_anneal_steps: int = 2000
    free_bits: float = 0.0
    token_cache: str | None = None
    tokenize_workers: int | None = None
    num_workers: int | None = 0

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("data", "out_dir", "token_cache")
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = IDENTITY_KEYS
    SCHEDULERS: ClassVar[tuple[str, ...]] = SCHEDULERS

    def resolved_lr(self, n_embd: int | None = None) -> float:
        """``lr``, or its default for a Transformer ``n_embd`` wide (None: another model)."""
        if self.lr is not None:
            return self.lr
        if n_embd is None:
            return 1e-3
        return min(2e-3, 2e-3 * 128 / n_embd)

    def normalise(self, name: str, value: Any) -> Any:
        """``--conditions tune_type,key`` on the command line becomes a list."""
        if name == "conditions" and isinstance(value, list):
            return [coerce("conditions[]", v, str) for v in value]
        return value

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        """As :meth:`Recipe.set`; a comma-separated ``conditions`` string is split."""
        if key == "conditions" and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        super().set(key, value, **kwargs)

    # -- checking ----------------------------------------------------------------
    def validate(self) -> LMTrainConfig:
        """Check every value's range; returns self. Raises :class:`ParameterError`."""
        from torchmusic.symbolic.tokenize import TOKENIZERS

        if not self.data:
            raise ParameterError(
                "data is not set: give --data FOLDER (MIDI files or a folk corpus)"
            )
        if self.model not in LM_ARCHITECTURES:
            raise ParameterError(
                f"model={self.model!r} is not a token model; expected one of "
                f"{LM_ARCHITECTURES} (or 'pianoroll' with a JSB .json file)"
            )
        if self.tokenizer not in TOKENIZERS:
            raise ParameterError(f"tokenizer={self.tokenizer!r}; expected one of {TOKENIZERS}")
        lr = self.lr
        self.lr = 1.0 if lr is None else lr  # None (chosen by the job) passes the lr > 0 check
        try:
            super().validate()
        finally:
            self.lr = lr
        if isinstance(self.seq_len, bool) or self.seq_len < 8:
            raise ParameterError(f"seq_len={self.seq_len!r} must be >= 8 tokens")
        for name in ("val_every_n_steps", "val_pieces", "max_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer or null")
        if self.warmup_steps is not None and self.warmup_steps < 0:
            raise ParameterError(f"warmup_steps={self.warmup_steps!r} must be >= 0 or null")
        if self.kl_anneal_steps < 0:
            raise ParameterError(f"kl_anneal_steps={self.kl_anneal_steps!r} must be >= 0")
        if self.condition_min_count < 1:
            raise ParameterError(f"condition_min_count={self.condition_min_count!r} must be >= 1")
        if not 0 <= self.transpose <= 24:
            raise ParameterError(f"transpose={self.transpose!r} must be in [0, 24] semitones")
        if not 0.0 <= self.condition_dropout <= 1.0:
            raise ParameterError(f"condition_dropout={self.condition_dropout!r} must be in [0, 1]")
        for name in ("beta", "free_bits"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.tokenize_workers is not None and self.tokenize_workers < 0:
            raise ParameterError(f"tokenize_workers={self.tokenize_workers!r} must be >= 0 or null")
        if self.model == "vae" and self.conditions:
            raise ParameterError(
                f"conditions={self.conditions!r}: the VAE is not conditioned; use a "
                "transformer or lstm for conditioned generation"
            )
        for column, values in self.select.items():
            if isinstance(values, str):
                self.select[column] = values = [v.strip() for v in values.split(",")]
            if not isinstance(values, list) or not values:
                raise ParameterError(
                    f"select.{column}={values!r} must be a non-empty list of values"
                )
            self.select[column] = [str(v) for v in values]
        if len(set(self.conditions)) != len(self.conditions):
            raise ParameterError(f"conditions={self.conditions!r} lists a field twice")
        if "vocab_size" in self.model_config:
            raise ParameterError(
                "model_config.vocab_size is set from the tokenizer and conditions; remove it"
            )
        return self
