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
#: Keys only the music views (:mod:`torchmusic.training.embed.augment`) know: an
#: ``augment`` mapping with any of them selects that pipeline.
MUSIC_ONLY_KEYS = frozenset(
    {
        "time_stretch",
        "pitch_bins",
        "noise_prob",
        "noise_snr_min",
        "noise_snr_max",
        "reverb_prob",
        "reverb_rt60_max",
        "band_limit_prob",
        "band_limit_min",
        "mix_prob",
        "mix_db_max",
    }
)
SAMPLING = ("uniform", "sqrt_duration", "duration")
#: The views of the general-purpose encoder (``configs/embed-music-*.yaml``, applied by
#: :func:`torchmusic.training.embed.augment.augment_views`). Strengths
#: stay within what keeps music recognisable: +-15 % tempo, +-2 mel bins of pitch
#: (about a semitone in the upper bands of 64 mels), noise no louder than 5 dB SNR.
MUSIC_AUGMENT: dict[str, float] = {
    "time_stretch": 0.15,  # tempo factor in [1/(1+s), 1+s]
    "pitch_bins": 2,  # largest shift of the mel bins
    "eq_db": 8.0,  # largest boost/cut of a smooth random EQ curve
    "noise_prob": 0.5,  # share of views with coloured noise added ...
    "noise_snr_min": 5.0,  # ... at an SNR (dB, against the view's mean power)
    "noise_snr_max": 30.0,  # drawn uniformly in [min, max]
    "reverb_prob": 0.4,  # share of views with a reverberant tail ...
    "reverb_rt60_max": 1.5,  # ... of RT60 up to this many seconds
    "band_limit_prob": 0.3,  # share of views low-passed (codec, old recording) ...
    "band_limit_min": 0.5,  # ... above a cutoff of at least this share of the bins
    "mix_prob": 0.3,  # share of views with another example of the batch mixed in ...
    "mix_db_max": -6.0,  # ... at -20 .. this many dB below the view
    "time_mask": 0.1,  # SpecAugment masks (fraction of frames / bins)
    "freq_mask": 0.1,
}
MUSIC_AUGMENT_KEYS = frozenset(MUSIC_AUGMENT) | {"n_masks"}


def is_music_augment(augment: dict[str, float] | None) -> bool:
    """Whether ``augment`` selects the music views (it has a key of :data:`MUSIC_ONLY_KEYS`)."""
    return bool(augment) and bool(MUSIC_ONLY_KEYS & set(augment))


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
        A mapping with any music key (``time_stretch``, ``noise_prob``, ...; see
        :data:`~torchmusic.training.embed.augment.MUSIC_AUGMENT`) selects the music
        views: tempo, pitch, EQ, noise, reverberation, band limit, mixing.
    data_split : str or None
        Keep only the manifest rows whose ``split`` column equals this (e.g.
        ``train``, so a soundtrack manifest's held-out tracks stay unseen).
    sampling : {"uniform", "sqrt_duration", "duration"}
        How often each training track is drawn: equally, or in proportion to the
        square root of (or to) its duration.
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
    data_split: str | None = None
    sampling: str = "uniform"
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
        "data_split",
    )
    RENAMED: ClassVar[dict[str, str]] = {"crops_per_track": "clips_per_track", "arch": "model"}

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
        if self.sampling not in SAMPLING:
            raise ParameterError(f"sampling={self.sampling!r}; expected one of {SAMPLING}")
        if is_music_augment(self.augment):
            unknown = sorted(set(self.augment) - MUSIC_AUGMENT_KEYS)
            if unknown:
                raise ParameterError(
                    f"augment: unknown music augmentation(s) {unknown}; "
                    f"known: {sorted(MUSIC_AUGMENT_KEYS)}"
                )
        self.feature_config()
        return self

    def feature_config(self):
        """The :class:`~torchmusic.features.FeatureConfig` of ``feature``."""
        from torchmusic.features.config import FeatureConfig

        return FeatureConfig.from_dict(dict(self.feature))

    def data_paths(self) -> list[str]:
        """``data`` as a list of absolute paths; a manifest (CSV/TSV/JSONL) gives its ``path`` column.

        Manifest paths are relative to the manifest's folder, as in
        :class:`~torchmusic.data.ManifestDataset`; with ``data_split`` only the rows
        of that split are kept. A file listed twice (a class-balanced manifest) is
        kept once.
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
                if self.data_split is not None and "split" not in columns:
                    raise DataError(
                        f"data_split={self.data_split!r} but manifest {str(p)!r} has no "
                        "'split' column"
                    )
                out += [
                    str((p.parent / row["path"]).resolve())
                    for _, row in rows
                    if row["path"] and (self.data_split in (None, row.get("split")))
                ]
            else:
                out.append(str(p.resolve()))
        return list(dict.fromkeys(out))
