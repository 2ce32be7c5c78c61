"""Settings of ``torchmusic serve``: where it listens, who may call it, its limits and models.

Plain data, no FastAPI import: the command line builds one and
:func:`torchmusic.web.app.create_app` takes it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tempfile
from pathlib import Path

from torchmusic.errors import ParameterError

#: Environment variable read for the bearer token when ``--token`` is not given.
TOKEN_ENV = "TORCHMUSIC_SERVE_TOKEN"

#: Names a client may use for a model: what ``--model NAME=FILE`` accepts.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def parse_model_option(text: str) -> tuple[str, str]:
    """``"NAME=FILE"`` -> ``(NAME, FILE)``; a bare ``FILE`` is named after its stem.

    Examples
    --------
    >>> parse_model_option("genre=runs/gtzan/model.safetensors")
    ('genre', 'runs/gtzan/model.safetensors')
    >>> parse_model_option("drums")
    ('drums', 'drums')
    """
    name, eq, value = text.partition("=")
    if not eq:
        value = text
        name = Path(text).stem if Path(text).suffix else text
    name, value = name.strip(), value.strip()
    if not _NAME.match(name) or not value:
        raise ParameterError(
            f"--model {text!r}: expected NAME=FILE or a shipped name, NAME made of letters, "
            "digits, '_', '.', '-' (at most 64)"
        )
    return name, value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything :func:`~torchmusic.web.app.create_app` needs.

    Parameters
    ----------
    host : str
        Interface to listen on; loopback unless told otherwise.
    port : int
        TCP port.
    token : str, optional
        Bearer token required on every ``/api`` route except ``/api/health``;
        None: no authentication (fine on loopback).
    max_upload_mb : float
        Largest accepted request body in MB (10**6 bytes); larger ones get ``413``
        while they stream in, before they are stored.
    max_duration_s : float
        Longest accepted audio in seconds (``413`` beyond); it also bounds the decoded
        samples, as if at 96 kHz stereo (a small FLAC can hold GBs of samples).
    catalog : pathlib.Path, optional
        A catalog folder (``torchmusic catalog add``) for ``/api/similar``.
    recommender : str, optional
        A recommender model file for ``/api/recommend``.
    models : dict of str to str
        Extra models a client may name, ``name -> model file``; shipped models are
        always available by name. Clients can never pass a path: the server only
        opens files its operator listed.
    classifier : str
        The model ``/api/predict`` uses when the request names none.
    generator : str
        The model ``/api/generate`` uses when the request names none.
    workers : int
        Requests computed at the same time (threads; torch releases the GIL).
    queue_size : int
        Requests waiting beyond those; one more gets ``503`` with ``Retry-After``.
    job_ttl_s : float
        Seconds a finished job's result is kept.
    work_dir : pathlib.Path, optional
        Parent of the per-process temporary folder; default: the system's temp folder.
    device : str
        Where models run.
    torch_threads : int, optional
        Intra-op threads per computation; default: CPUs / workers (at least 1), so
        concurrent requests do not oversubscribe the cores.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_upload_mb: float = 50.0
    max_duration_s: float = 600.0
    catalog: Path | None = None
    recommender: str | None = None
    models: dict[str, str] = dataclasses.field(default_factory=dict)
    classifier: str = "drums"
    generator: str = "folk"
    workers: int = 2
    queue_size: int = 8
    job_ttl_s: float = 900.0
    work_dir: Path | None = None
    device: str = "cpu"
    torch_threads: int | None = None

    def __post_init__(self) -> None:
        def positive(name: str, value: object, *, integer: bool) -> None:
            kind = int if integer else (int, float)
            if (
                isinstance(value, bool)
                or not isinstance(value, kind)
                or not (0 < value < math.inf)
            ):
                what = "a positive integer" if integer else "a positive number"
                raise ParameterError(f"{name}={value!r} must be {what}")

        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ParameterError(f"port={self.port!r} must be an integer in 0..65535")
        positive("max_upload_mb", self.max_upload_mb, integer=False)
        positive("max_duration_s", self.max_duration_s, integer=False)
        positive("workers", self.workers, integer=True)
        positive("job_ttl_s", self.job_ttl_s, integer=False)
        if not isinstance(self.queue_size, int) or self.queue_size < 0:
            raise ParameterError(f"queue_size={self.queue_size!r} must be an integer >= 0")
        if self.torch_threads is not None:
            positive("torch_threads", self.torch_threads, integer=True)
        if self.token is not None and len(self.token) < 8:
            raise ParameterError("token must be at least 8 characters (it guards the API)")
        for name in self.models:
            if not _NAME.match(name):
                raise ParameterError(f"model name {name!r}: letters, digits, '_', '.', '-' only")

    @classmethod
    def from_env(cls, **kwargs: object) -> Settings:
        """Settings with ``token`` taken from ``$TORCHMUSIC_SERVE_TOKEN`` when not given."""
        if kwargs.get("token") is None and os.environ.get(TOKEN_ENV):
            kwargs["token"] = os.environ[TOKEN_ENV]
        return cls(**kwargs)  # type: ignore[arg-type]

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1_000_000)

    @property
    def temp_root(self) -> Path:
        """Folder holding one ``run-<pid>`` folder per server process."""
        return Path(self.work_dir or tempfile.gettempdir()) / "torchmusic-serve"

    def threads_per_worker(self) -> int:
        """Torch intra-op threads for each of the ``workers``."""
        if self.torch_threads is not None:
            return self.torch_threads
        return max(1, (os.cpu_count() or 1) // self.workers)
