"""Settings of the two-tower recommender's training: a torch-free :class:`Recipe`.

It is not a :class:`~torchmusic.training.recipe.RunRecipe`: the network trains
inside a recommender's ``fit`` (no run folder, checkpoints or DDP), so only the
shared names it uses are here (``max_epochs``, ``scheduler``, ``batch_size``,
``lr``, ``weight_decay``, ``patience``, ``seed``, ``accelerator``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from torchmusic.errors import ParameterError
from torchmusic.training.recipe import Recipe, accepts_renamed

LOSSES = ("softmax", "bpr")
SCHEDULERS = ("constant", "cosine")
SCHEDULES = SCHEDULERS  # the old name


@accepts_renamed
@dataclasses.dataclass
class TwoTowerTrainConfig(Recipe):
    """Settings of :func:`fit_two_tower` (the network's size is ``dim``).

    Attributes
    ----------
    dim : int
        Embedding size.
    max_epochs : int
        Passes over the users (``epochs`` before 0.2).
    batch_size : int
        Users per step.
    lr : float
        Adam learning rate.
    scheduler : str
        ``"constant"`` or ``"cosine"`` (annealed to 0 over ``max_epochs``;
        ``schedule`` before 0.2).
    weight_decay : float
        L2 penalty on the embeddings (see the module docstring for its scale).
    input_dropout : float
        Share of each user's items hidden from the input bag at each step.
    loss : str
        ``"softmax"`` or ``"bpr"``.
    negatives : int
        Sampled negatives per positive for ``loss="bpr"``.
    val_fraction : float
        If > 0, hold out this share of each user's items, report validation
        recall@10 per epoch, stop after ``patience`` epochs without improvement
        and keep the best epoch's weights (the held-out items are not trained on).
    patience : int
        Early-stopping patience (with ``val_fraction > 0``).
    seed : int
        Seed of initialisation, shuffling and dropout.
    accelerator : str
        ``"cpu"``, ``"gpu"`` or ``"auto"``.
    progress : bool
        Show Lightning's progress bar.
    """

    dim: int = 64
    max_epochs: int = 40
    batch_size: int = 128
    lr: float = 3e-3
    scheduler: str = "constant"
    weight_decay: float = 5.0
    input_dropout: float = 0.5
    loss: str = "softmax"
    negatives: int = 16
    val_fraction: float = 0.0
    patience: int = 5
    seed: int = 0
    accelerator: str = "cpu"
    progress: bool = False

    RENAMED: ClassVar[dict[str, str]] = {"epochs": "max_epochs", "schedule": "scheduler"}

    def validate(self) -> TwoTowerTrainConfig:
        """Check every field; returns ``self`` (:class:`ParameterError` naming the first bad one)."""
        for name in ("dim", "max_epochs", "batch_size", "negatives", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive int")
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ParameterError(f"{name}={value!r} must be a non-negative number")
        for name in ("input_dropout", "val_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise ParameterError(f"{name}={value!r} must be in [0, 1)")
        if self.scheduler not in SCHEDULERS:
            raise ParameterError(f"scheduler={self.scheduler!r} must be one of {SCHEDULERS}")
        if self.loss not in LOSSES:
            raise ParameterError(f"loss={self.loss!r} must be one of {LOSSES}")
        return self


#: The recommenders ``torchmusic train recommend`` fits.
RECOMMENDERS = ("popularity", "itemknn", "als", "bpr", "content", "hybrid")


@dataclasses.dataclass
class RecommendRecipe(Recipe):
    """``torchmusic train recommend`` settings: the model kind and one section per kind.

    Each section holds the constructor arguments of that recommender (see
    ``configs/lastfm.yaml``). A ``--key value`` override that is not a field
    goes to the chosen model's section (``--factors 128``; dotted keys reach
    nested settings: ``--cf_config.factors 128`` for the hybrid).

    Examples
    --------
    >>> r = RecommendRecipe.from_sources(model="als", overrides=["--factors", "32"])
    >>> r.settings()
    ('als', {'factors': 32})
    """

    model: str = "hybrid"
    popularity: dict[str, Any] = dataclasses.field(default_factory=dict)
    itemknn: dict[str, Any] = dataclasses.field(default_factory=dict)
    als: dict[str, Any] = dataclasses.field(default_factory=dict)
    bpr: dict[str, Any] = dataclasses.field(default_factory=dict)
    content: dict[str, Any] = dataclasses.field(default_factory=dict)
    hybrid: dict[str, Any] = dataclasses.field(default_factory=dict)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        """As :meth:`Recipe.set`; a key that is no field belongs to ``model``'s section."""
        name = key.replace("-", "_").partition(".")[0]
        if name not in {f.name for f in dataclasses.fields(self)} and self.model in RECOMMENDERS:
            key = f"{self.model}.{key}"
        super().set(key, value, **kwargs)

    def normalise(self, name: str, value: Any) -> Any:
        if name == "model" and value not in RECOMMENDERS:
            raise ParameterError(
                f"--model {value!r} is not a recommender; expected one of {RECOMMENDERS}"
            )
        return value

    def settings(self) -> tuple[str, dict[str, Any]]:
        """``(kind, constructor arguments)`` of the chosen recommender."""
        return self.model, dict(getattr(self, self.model))
