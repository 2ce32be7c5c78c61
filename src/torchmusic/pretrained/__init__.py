"""Model files shipped inside the package, looked up by name (``torchmusic predict --model drums``).

Kept free of heavy imports: the CLI resolves names before it loads torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from torchmusic.errors import DataError

#: Shipped model name -> file in this folder.
PRETRAINED: dict[str, str] = {
    "drums": "drums.safetensors",
    "folk": "folk.safetensors",
    "music-vocoder": "music-vocoder.safetensors",
    "music-denoiser": "music-denoiser.safetensors",
    "drum-gan": "drum-gan.safetensors",
    "music-embed": "music-embed.safetensors",
}

#: Other names of shipped files: ``music-embed`` names the fused embedder
#: (:mod:`torchmusic.embed.fused`), ``music-embed-encoder`` its encoder's file alone.
ALIASES: dict[str, str] = {"music-embed-encoder": "music-embed"}

#: One line per shipped model, for help texts and error messages.
DESCRIPTIONS: dict[str, str] = {
    "drums": "drum-hit classifier (kick, snare, hi-hat, tom, crash, ride, clap, other) "
    "trained on Debian's hydrogen drum kits",
    "folk": "folk-tune generator (Transformer over REMI tokens) conditioned on tune type, "
    "metre and key, trained on O'Neill's, Ryan's and Aird's collections",
    "music-vocoder": "Vocos-style vocoder (torchmusic's default log-mel -> 22,050 Hz audio) "
    "trained on recorded game music from Debian's wesnoth and warzone2100 packages",
    "music-denoiser": "STFT U-Net music denoiser (22,050 Hz; hiss, hum, clicks, crackle, "
    "room and machine noise) trained on the same game music mixed with real and generated noise",
    "drum-gan": "class-conditional SpecGAN making new drum hits (kick, snare, hi-hat, tom, crash, "
    "ride, clap, other) heard through music-vocoder, trained on Debian's hydrogen drum kits",
    "music-embed": "general-purpose music embedding (352-d): a self-supervised CNN encoder on "
    "3 s log-mel windows (trained on 14 h of Debian game soundtracks, rendered scores and drum "
    "kits) fused with standardised MFCC statistics and a rhythm profile; the encoder alone is "
    "music-embed-encoder",
}

#: How to train each shipped model yourself (for the missing-file message).
TRAIN_COMMANDS: dict[str, str] = {
    "drums": "torchmusic train classify --config configs/drums.yaml",
    "folk": "torchmusic train lm --config configs/folk.yaml --data FOLK_CORPUS",
    "music-vocoder": "torchmusic train vocoder --config configs/vocoder-vocos-cpu.yaml "
    "--data SOUNDTRACKS/manifest.csv",
    "music-denoiser": "torchmusic train denoise --config configs/denoise-cpu.yaml "
    "--clean SOUNDTRACKS/manifest.csv --noise ../shared/data/noise",
    "drum-gan": "torchmusic train gan --config configs/gan-specgan-cpu.yaml "
    "--data DRUMS/drums/drums_fold0.csv --max_minutes 50",
    "music-embed": "torchmusic train embed --config configs/embed-music-cpu.yaml "
    "--data SOUNDTRACKS/manifest.csv DRUMS/drums/drums_fold0.csv --data_split train",
}


def pretrained_dir() -> Path:
    """The folder that holds the shipped model files."""
    return Path(__file__).resolve().parent


def available_models() -> list[str]:
    """Names of the shipped models whose file is present in this installation."""
    return sorted(name for name, f in PRETRAINED.items() if (pretrained_dir() / f).is_file())


def resolve_model(name_or_path: str | os.PathLike[str]) -> Path:
    """Path of a model file, given its path or a shipped model's name.

    An existing file wins over a shipped name of the same spelling, so a local
    file called ``drums`` is used as it is; a folder of that name is not (it cannot
    be a model file), so the shipped model is used.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A model file, or a name in :data:`PRETRAINED` (e.g. ``"drums"``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        The path is a folder or does not exist and is no shipped name, or the
        shipped model's file is missing from this installation.

    Examples
    --------
    >>> resolve_model("drums")  # doctest: +SKIP
    PosixPath('.../torchmusic/pretrained/drums.safetensors')
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = str(name_or_path)
    name = ALIASES.get(name, name) if not path.is_dir() else name
    # A folder is never a model file, so a folder of the same name in the working
    # directory (e.g. the corpus of `torchmusic datasets build folk --out folk`) must
    # not hide a shipped model.
    if path.is_dir() and name not in PRETRAINED:
        raise DataError(f"model {str(path)!r} is a folder; expected a model file (.safetensors)")
    if name in PRETRAINED:
        shipped = pretrained_dir() / PRETRAINED[name]
        if not shipped.is_file():
            raise DataError(
                f"shipped model {name!r} is not installed: {shipped} is missing (this "
                "torchmusic was built without it); train one with "
                f"'{TRAIN_COMMANDS.get(name, 'torchmusic train ...')}' and pass its model "
                "file instead"
            )
        return shipped
    raise DataError(
        f"model {name!r} is neither an existing model file nor a shipped model name "
        f"(shipped: {sorted(PRETRAINED)})"
    )
