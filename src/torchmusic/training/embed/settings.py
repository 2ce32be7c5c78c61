"""Settings of embedding training (autoencoder / contrastive): a torch-free :class:`RunRecipe`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.recipe import RunRecipe

KINDS = ("autoencoder", "contrastive")
# Views of the contrastive model differ by these (see torchmusic.training.augment);
# the autoencoder sees clean crops.
CONTRASTIVE_AUGMENT = {"eq_db": 6.0, "freq_shift": 0.04, "time_mask": 0.1, "freq_mask": 0.1}


@dataclasses.dataclass
class EmbedTrainConfig(RunRecipe):
    """Settings of an embedding training run (YAML recipe + ``--key value`` overrides).

    Parameters
    ----------
    data : str or list of str
        Audio folder(s) or files (folders are searched recursively), or a
        manifest whose ``path`` column lists the files.
    model : {"autoencoder", "contrastive"}
    model_config : dict
        Overrides of the network config (``dim``, ``channels``, ``temperature``, ...).
    feature : dict
        :class:`~torchmusic.features.FeatureConfig` settings (default: 64-band log-mel).
    clip_seconds : float
        Crop length (the embedding window at inference).
    clips_per_track : int
        Random crops per track per epoch.
    val_fraction : float
        Share of tracks held out for validation (0: none; at least one track when > 0).
    augment : dict or None
        Augmentation of the contrastive views (default :data:`CONTRASTIVE_AUGMENT`).
    batch_size, max_epochs, lr, weight_decay, seed : number
        Optimisation (AdamW, cosine schedule over ``max_epochs``).
    out_dir : str or None
        Run folder (default ``runs/<data name>-<model>``).
    cache_dir : str or None
        Feature cache (default: ``$TORCHMUSIC_CACHE_DIR`` or ``~/.cache/torchmusic/features``).
    extract_workers : int or None
        Processes computing features before training.
    accelerator, devices, num_nodes, strategy, precision
        Passed to :class:`lightning.pytorch.Trainer`.
    resume : bool
        Continue the run in ``out_dir`` from ``checkpoints/last.ckpt``.
    """

    data: str | list[str] | None = None
    model: str = "contrastive"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    feature: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"kind": "logmel", "n_mels": 64}
    )
    clip_seconds: float = 3.0
    clips_per_track: int = 4
    val_fraction: float = 0.1
    augment: dict[str, float] | None = None
    max_epochs: int = 20
    weight_decay: float = 1e-4
    cache_dir: str | None = None
    extract_workers: int | None = None

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("data", "out_dir", "cache_dir")
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = (
        "data",
        "model",
        "model_config",
        "feature",
        "clip_seconds",
        "seed",
        "val_fraction",
    )
    RENAMED: ClassVar[dict[str, str]] = {"crops_per_track": "clips_per_track"}

    def validate(self) -> EmbedTrainConfig:
        """Check values; returns self (:class:`ParameterError` on the first problem)."""
        if not self.data:
            raise ParameterError("data is not set: give --data AUDIO_FOLDER")
        if self.model not in KINDS:
            raise ParameterError(f"model={self.model!r}; expected one of {KINDS}")
        super().validate()
        if isinstance(self.clips_per_track, bool) or self.clips_per_track < 1:
            raise ParameterError(
                f"clips_per_track={self.clips_per_track!r} must be a positive integer"
            )
        if self.model == "contrastive" and self.batch_size < 2:
            raise ParameterError("contrastive training needs batch_size >= 2 (negatives)")
        if not 0 <= self.val_fraction < 1:
            raise ParameterError(f"val_fraction={self.val_fraction!r} must be in [0, 1)")
        if not self.clip_seconds > 0:
            raise ParameterError(f"clip_seconds={self.clip_seconds!r} must be > 0")
        self.feature_config()
        return self

    def feature_config(self):
        """The :class:`~torchmusic.features.FeatureConfig` of ``feature``."""
        from torchmusic.features.config import FeatureConfig

        return FeatureConfig.from_dict(dict(self.feature))

    def data_paths(self) -> list[str]:
        """``data`` as a list of absolute paths; a manifest (CSV/TSV/JSONL) gives its ``path`` column.

        Manifest paths are relative to the manifest's folder, as in
        :class:`~torchmusic.data.ManifestDataset`.
        """
        from torchmusic.data.manifest import read_manifest

        items = [self.data] if isinstance(self.data, str) else list(self.data or [])
        out = []
        for item in items:
            p = Path(item).expanduser()
            if p.is_file() and p.suffix.lower() in (".csv", ".tsv", ".jsonl", ".ndjson"):
                columns, rows = read_manifest(p)
                if "path" not in columns:
                    raise DataError(f"manifest {str(p)!r} has no 'path' column")
                out += [str((p.parent / row["path"]).resolve()) for _, row in rows if row["path"]]
            else:
                out.append(str(p.resolve()))
        return out
