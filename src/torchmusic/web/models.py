"""The models a server offers, each loaded once (on first use) and shared by all requests.

Clients name models, never paths: a name is a shipped model (``torchmusic info``) or
one the operator gave with ``--model NAME=FILE``. An unknown name is ``404
unknown_model``; a known model of the wrong kind (a generator asked to classify) is
``422 wrong_model``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torchmusic.errors import DataError
from torchmusic.pretrained import DESCRIPTIONS, PRETRAINED, available_models, resolve_model
from torchmusic.web.errors import ApiError
from torchmusic.web.settings import Settings


def _classifier(path: Path, device: str) -> Any:
    from torchmusic.serve.predict import Predictor

    return Predictor(path, device=device)


def _generator(path: Path, device: str) -> Any:
    from torchmusic.models.symbolic import load_generator

    return load_generator(path, device=device)


def _denoiser(path: Path, device: str) -> Any:
    from torchmusic.serve.denoise import Denoiser

    return Denoiser(path, device=device)


def _vocoder(path: Path, device: str) -> Any:
    from torchmusic.serve.vocode import Vocoder

    return Vocoder(path, device=device)


def _gan(path: Path, device: str) -> Any:
    from torchmusic.serve.synthesize import load_gan

    return load_gan(path, device=device)


#: Model kind -> loader(path, device).
LOADERS: dict[str, Callable[[Path, str], Any]] = {
    "classifier": _classifier,
    "generator": _generator,
    "denoiser": _denoiser,
    "vocoder": _vocoder,
    "gan": _gan,
}


class Models:
    """Named model files and the loaded models, cached by ``(kind, name)``.

    Parameters
    ----------
    settings : Settings
        ``models`` (extra names) and ``device``.
    """

    def __init__(self, settings: Settings) -> None:
        # Resolved now: a missing file is the operator's mistake, reported at start (a
        # DataError naming it), never to a client (whose error would show the path).
        self.files = {name: resolve_model(f) for name, f in settings.models.items()}
        self.device = settings.device
        self._loaded: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Every name a client may use."""
        return sorted({*available_models(), *self.files})

    def path(self, name: str) -> Path:
        """The file of a model name (``404 unknown_model`` for any other name).

        Parameters
        ----------
        name : str
            A shipped model's name or one given with ``--model NAME=FILE``.

        Returns
        -------
        pathlib.Path
        """
        if name in self.files:
            return self.files[name]
        if name in PRETRAINED and name in available_models():
            return resolve_model(name)
        raise ApiError(
            404,
            "unknown_model",
            f"no model named {name!r}; available: {self.names()} (the server's operator adds "
            "model files with --model NAME=FILE)",
        )

    def get(self, kind: str, name: str) -> Any:
        """The loaded model ``name`` of ``kind``, loading it once.

        Parameters
        ----------
        kind : str
            One of :data:`LOADERS`.
        name : str
            A model name (:meth:`path`).

        Returns
        -------
        object
            The shared model (inference only).

        Raises
        ------
        ApiError
            ``404 unknown_model``; ``422 wrong_model`` for a model of another kind.
        """
        key = (kind, name)
        model = self._loaded.get(key)
        if model is not None:
            return model
        path = self.path(name)
        with self._lock:  # one load per model, even when requests for it arrive together
            model = self._loaded.get(key)
            if model is None:
                try:
                    model = LOADERS[kind](path, self.device)
                except DataError as exc:
                    # The message names the file: the client sees the model's name only.
                    detail = str(exc)
                    for spelling in sorted({str(path.resolve()), str(path)}, key=len)[::-1]:
                        detail = detail.replace(spelling, "its file")
                    raise ApiError(
                        422, "wrong_model", f"model {name!r} is not a usable {kind}: {detail}"
                    ) from None
                self._loaded[key] = model
        return model

    def describe(self) -> list[dict[str, Any]]:
        """``name``, ``source``, ``description`` and the kinds loaded, per model."""
        loaded: dict[str, list[str]] = {}
        for kind, name in list(self._loaded):
            loaded.setdefault(name, []).append(kind)
        out = []
        for name in self.names():
            shipped = name not in self.files
            out.append(
                {
                    "name": name,
                    "source": "shipped" if shipped else "file",
                    "description": DESCRIPTIONS.get(name, "") if shipped else "",
                    "loaded_as": sorted(loaded.get(name, [])),
                }
            )
        return out
