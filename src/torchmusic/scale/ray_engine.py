"""Embed or label a whole library on a Ray cluster with Ray Data (``torchmusic[ray]``).

The job is one Ray Data pipeline::

    paths (shared filesystem)  ->  from_items([{path, name}])  \\
    URIs / bytes                ->  read_binary_files(...)      -> map_batches(actor class,
        concurrency=n actors, num_cpus / num_gpus each)  ->  write_parquet / write_json
                                                               or the rows, in input order

Each actor loads the model once (:mod:`torchmusic.scale.ray_workers`) and runs the
same per-file code as the local path (:func:`torchmusic.embed.embed_tracks`,
:func:`torchmusic.serve.predict.predict_paths`), so results are identical. A file
that cannot be read becomes a row with an ``error``; the job never fails for it.

Ray is imported inside these functions only: ``import torchmusic`` and
``torchmusic --help`` never load it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import socket
import time
import warnings
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torchmusic.data.discover import AUDIO_EXTENSIONS, FailedFile, collect_inputs
from torchmusic.data.tables import TABLE_FORMATS, iter_table_rows, table_format
from torchmusic.errors import DataError, DependencyError, ParameterError

Inputs = str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | Any


@dataclasses.dataclass
class RayReport:
    """Outcome of :func:`embed_dataset` / :func:`predict_dataset`.

    Attributes
    ----------
    rows : list of dict or None
        The result rows (error rows included), in input order, when no ``output``
        was given; None otherwise.
    output : str or None
        The table folder written.
    format : str or None
        ``"parquet"`` or ``"jsonl"`` (None without ``output``).
    tracks : int
        Rows without an error.
    failed : list of FailedFile
        Error rows: files that could not be read, and inputs that do not exist.
    seconds : float
        Wall time of the job (Ray start-up included when it was started here).
    """

    rows: list[dict[str, Any]] | None
    output: str | None
    format: str | None
    tracks: int
    failed: list[FailedFile]
    seconds: float

    def summary(self) -> str:
        """One line: tracks, failures, where the table went, time."""
        where = f" -> {self.output} ({self.format})" if self.output else ""
        return (
            f"{self.tracks} track(s), {len(self.failed)} failed{where} "
            f"in {self.seconds:.1f} s (Ray)"
        )


def import_ray():
    """The ``ray`` module with Ray Data, or :class:`DependencyError` saying what to install."""
    try:
        import ray
        import ray.data  # the engine needs Ray Data, not only Ray core
    except ImportError as exc:
        raise DependencyError(
            f"the Ray engine needs Ray Data ({exc}): pip install 'torchmusic[ray]'"
        ) from exc
    return ray


@contextmanager
def ray_session(address: str | None):
    """Use the running Ray, else connect to ``address`` (None: start a local one).

    A Ray started or connected here is shut down on exit; one the caller started
    (``ray.init`` before the call) is left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    _check_reachable(address)
    # None means a new local instance ("local"), never a cluster Ray would find on its
    # own (RAY_ADDRESS, a `ray start` on this machine): joining one is --address auto.
    kwargs: dict[str, Any] = {"address": address or "local"}
    if address is None:  # nobody needs the dashboard of a throw-away instance
        kwargs["include_dashboard"] = False
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:  # a typo in the address, or a cluster that is not up
        raise ParameterError(
            f"cannot reach a Ray cluster at address={address!r} ({exc}): is 'ray start "
            "--head' running there? A cluster with token authentication (as 'ray start' "
            "of Ray 2.60 sets up) also needs RAY_AUTH_MODE=token here and its ~/.ray/auth_token"
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str | None) -> None:
    """Refuse a ``host:port`` nobody listens on at once (``ray.init`` retries for minutes)."""
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise ParameterError(
            f"cannot reach a Ray cluster at address={address!r} ({exc}): is 'ray start "
            "--head' running there, and is the port open?"
        ) from exc


def _positive(name: str, value: Any, *, zero: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise ParameterError(f"{name}={value!r} must be a number {bound}")
    return float(value)


def _check_job(
    *, batch_size: int, num_cpus: float, num_gpus: float, concurrency: Any, fmt: str
) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
    _positive("num_cpus", num_cpus)
    _positive("num_gpus", num_gpus, zero=True)
    if concurrency is not None:
        sizes = concurrency if isinstance(concurrency, tuple) else (concurrency,)
        if not sizes or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes
        ):
            raise ParameterError(
                f"concurrency={concurrency!r} must be a positive int (actors) or a "
                "(min, max) tuple of them"
            )
    if fmt not in TABLE_FORMATS:
        raise ParameterError(f"format={fmt!r} must be one of {', '.join(TABLE_FORMATS)}")


def _actor_pool(ray: Any, concurrency: Any, num_cpus: float, num_gpus: float) -> Any:
    """An ``ActorPoolStrategy`` of ``concurrency`` actors or, by default, an autoscaling
    pool up to what the cluster holds."""
    if isinstance(concurrency, int):
        return ray.data.ActorPoolStrategy(size=concurrency)
    if isinstance(concurrency, tuple):
        return ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[-1])
    res = ray.cluster_resources()
    # Decoding is CPU-bound: about one actor per core it may use by default.
    most = max(1, int(res.get("CPU", 1) // max(num_cpus, 1.0)))
    if num_gpus > 0:
        most = max(1, min(most, int(res.get("GPU", 0) // num_gpus)))
    return ray.data.ActorPoolStrategy(min_size=1, max_size=most)


def _input_dataset(
    ray: Any, inputs: Inputs, source: str, extensions: Sequence[str]
) -> tuple[Any, list[str] | None]:
    """The input dataset and the input order of its paths (None: unknown, sort by path)."""
    if isinstance(inputs, ray.data.Dataset):
        columns = set(inputs.columns() or ())
        if "path" not in columns:
            raise ParameterError(
                f"a Ray dataset input needs a 'path' column (and 'bytes' for file contents, "
                f"as read_binary_files(..., include_paths=True) gives); it has {sorted(columns)}"
            )
        return inputs, None
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    texts = [os.fspath(x) for x in items]
    uris = [t for t in texts if "://" in t]
    if source == "auto":
        source = "bytes" if uris else "path"
    if source not in ("path", "bytes"):
        raise ParameterError(f"source={source!r} must be 'auto', 'path' or 'bytes'")
    if uris and (source == "path" or len(uris) < len(texts)):
        raise ParameterError(
            f"{uris[0]!r} is a URI: workers cannot open it as a path; give only URIs, "
            "with source='bytes'"
        )
    if source == "bytes" and uris:
        exts = sorted({e.lstrip(".").lower() for e in extensions})
        ds = ray.data.read_binary_files(texts, include_paths=True, file_extensions=exts)
        return ds, None
    found, missing = collect_inputs(texts, extensions=extensions)
    if source == "bytes":
        return _local_bytes(ray, found, missing), [str(p) for p, _ in found]
    rows = [{"path": str(p), "name": name, "error": ""} for p, name in found]
    # Inputs that do not exist are error rows, as the local path reports them.
    rows += [{"path": str(p), "name": p.name, "error": "no such file or folder"} for p in missing]
    if not rows:
        raise ParameterError(f"no audio files found in {texts}")
    return ray.data.from_items(rows), [r["path"] for r in rows]


def _local_bytes(ray: Any, found: list[tuple[Path, str]], missing: list[Path]) -> Any:
    """The bytes of files only this machine has, read here and shipped to the actors."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if missing:
        raise ParameterError(f"no such file or folder: {', '.join(map(str, missing[:5]))}")
    if not found:
        raise ParameterError("no audio files found")
    # Ray schedules read tasks on any node; these files exist on this one only, so the
    # reads are pinned here and only the actors (anywhere) get the bytes.
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    with warnings.catch_warnings():
        # Ray >= 2.5x prefers named remote arguments, which read_binary_files does not
        # take yet for a scheduling strategy; ray_remote_args works from 2.40 on.
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ray.data.read_binary_files(
            [str(p) for p, _ in found],
            include_paths=True,
            ray_remote_args={"scheduling_strategy": here},
        )
    # read_binary_files gives filesystem paths ("music/a.ogg" for "/music/a.ogg") and
    # no folder-relative names: both are joined back in by path.
    known = {}
    for p, name in found:
        known[str(p)] = known[str(p).lstrip("/")] = (str(p), name)
    return ds.map_batches(_restore_names, fn_kwargs={"known": known}, batch_format="numpy")


def _restore_names(batch: dict[str, Any], *, known: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The ``path`` the caller gave and the ``name`` relative to its folder, per row."""
    import numpy as np

    pairs = [known.get(str(p), (str(p), Path(str(p)).name)) for p in batch["path"]]
    batch["path"] = np.array([p for p, _ in pairs], dtype=object)
    batch["name"] = np.array([n for _, n in pairs], dtype=object)
    return batch


def _absolute(output: str | os.PathLike[str]) -> str:
    """A local output as an absolute path: the workers that write it run elsewhere."""
    out = os.fspath(output)
    return out if "://" in out else os.path.abspath(os.path.expanduser(out))


def _model_for_workers(model: Any) -> Any:
    """A model file as an absolute path (workers do not share this process's working
    folder); a shipped name stays a name (each worker finds its own copy); a missing
    file is refused here, before any actor starts."""
    if not isinstance(model, str | os.PathLike) or os.fspath(model).lower() in ("mfcc", "rhythm"):
        return model
    from torchmusic.pretrained import ALIASES, PRETRAINED, resolve_model

    if not Path(model).is_file() and (
        os.fspath(model) in PRETRAINED or os.fspath(model) in ALIASES
    ):
        return os.fspath(model)
    return os.path.abspath(resolve_model(model))


def _prepare_output(output: str | os.PathLike[str], fmt: str | None, overwrite: bool) -> str:
    out = os.fspath(output)
    fmt = fmt or table_format(out)
    local = Path(out) if "://" not in out else None
    if local is not None and local.exists():
        if local.is_dir() and not any(local.iterdir()):
            return fmt
        if not overwrite:
            raise ParameterError(f"output {out!r} exists: pass overwrite=True to replace it")
        # Removed before the job, so the workers' parts never mix with an older table's.
        if local.is_file():
            local.unlink()
        else:
            shutil.rmtree(local)
    return fmt


def _run(
    make_actor: type,
    actor_kwargs: dict[str, Any],
    inputs: Inputs,
    *,
    output: str | os.PathLike[str] | None,
    format: str | None,
    source: str,
    concurrency: Any,
    num_cpus: float,
    num_gpus: float,
    batch_size: int,
    address: str | None,
    extensions: Sequence[str],
    overwrite: bool,
    progress: bool,
) -> RayReport:
    output = None if output is None else _absolute(output)
    fmt = None if output is None else (format or table_format(output))
    actor_kwargs = {**actor_kwargs, "model": _model_for_workers(actor_kwargs["model"])}
    _check_job(
        batch_size=batch_size,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        concurrency=concurrency,
        fmt=fmt or "parquet",
    )
    if output is not None:
        fmt = _prepare_output(output, fmt, overwrite)
    start = time.perf_counter()
    with ray_session(address) as ray:
        ray.data.DataContext.get_current().enable_progress_bars = progress
        ds, order = _input_dataset(ray, inputs, source, extensions)
        ds = ds.map_batches(
            make_actor,
            fn_constructor_kwargs=actor_kwargs,
            batch_size=batch_size,
            batch_format="numpy",
            compute=_actor_pool(ray, concurrency, num_cpus, num_gpus),
            num_cpus=num_cpus,
            num_gpus=num_gpus,
        )
        rows = None
        if output is None:
            import pyarrow as pa

            tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
            rows = pa.concat_tables(tables).to_pylist() if tables else []
            rank = {p: i for i, p in reversed(list(enumerate(order or [])))}
            rows.sort(key=lambda r: (rank.get(r["path"], len(rank)), r["path"]))
        elif fmt == "parquet":
            ds.write_parquet(os.fspath(output))
        else:
            # pandas writes 10 significant digits by default: float32 vectors need 9,
            # probabilities more; 15 keeps every float32 exact through the round trip.
            ds.write_json(
                os.fspath(output),
                pandas_json_args_fn=lambda: {"double_precision": 15, "force_ascii": False},
            )
    seconds = time.perf_counter() - start
    checked = rows if rows is not None else _read_status(os.fspath(output))
    if output is not None and order is not None and "://" not in output:
        if len(checked) != len(order):
            raise DataError(
                f"the table {output!r} holds {len(checked)} rows for {len(order)} inputs: "
                "workers on other nodes wrote the rest to their own disks; on a multi-node "
                "cluster the output must be on a shared filesystem or in object storage"
            )
    failed = [FailedFile(Path(r["path"]), r["error"]) for r in checked if r.get("error")]
    return RayReport(
        rows=rows,
        output=None if output is None else os.fspath(output),
        format=fmt,
        tracks=len(checked) - len(failed),
        failed=failed,
        seconds=seconds,
    )


def _read_status(output: str) -> list[dict[str, Any]]:
    if "://" in output:  # a remote table: not read back here
        return []
    out: list[dict[str, Any]] = []
    for batch in iter_table_rows(output, columns=["path", "error"]):
        out.extend(batch)
    return out


def embed_dataset(
    paths_or_ray_dataset: Inputs,
    model: Any,
    *,
    output: str | os.PathLike[str] | None = None,
    format: str | None = None,
    source: str = "auto",
    concurrency: int | tuple[int, int] | None = None,
    num_cpus: float = 0.5,
    num_gpus: float = 0,
    batch_size: int = 4,
    address: str | None = None,
    device: str | None = None,
    hop_seconds: float | None = None,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    overwrite: bool = False,
    progress: bool = True,
) -> RayReport:
    """Track embeddings of a library on Ray: one row per file, to a table or returned.

    Parameters
    ----------
    paths_or_ray_dataset : path, iterable of paths/URIs, or ray.data.Dataset
        Audio files and folders (folders searched for ``extensions``), URIs
        (``s3://bucket/music/``), or a dataset with a ``path`` column (and
        ``bytes``, as ``read_binary_files(..., include_paths=True)`` gives).
    model : str, os.PathLike or Embedder
        ``"mfcc"``, an embedding/classifier model file or shipped name, or a ready
        embedder (pickled to each actor), as :func:`torchmusic.embed.get_embedder`.
    output : str or os.PathLike, optional
        Table folder to write (``embeddings.parquet``: a folder of part files, one
        per block, written by the workers; on a cluster it must be on a shared
        filesystem or object store). Default: return the rows.
    format : {"parquet", "jsonl"}, optional
        Default: from the name of ``output``.
    source : {"auto", "path", "bytes"}
        ``"path"``: workers open the files by path (a filesystem they all see);
        ``"bytes"``: Ray reads the bytes (``read_binary_files``; any pyarrow
        filesystem, e.g. S3) and ships them to the actors. ``"auto"``: bytes for URIs.
    concurrency : int or (int, int), optional
        Actors (each loads the model once); default: an autoscaling pool of up to
        one actor per CPU core (per ``num_gpus`` share of the GPUs).
    num_cpus, num_gpus : float
        Resources reserved per actor; fractions pack several actors on one core
        or GPU (whole-CPU actors on a 2-core machine leave no CPU for reading).
    batch_size : int
        Files per batch handed to an actor.
    address : str, optional
        Ray cluster (``"auto"``, ``"ray://head:10001"``); default: the Ray this
        process already runs, else a new local one (shut down afterwards).
    device : str, optional
        Where each actor runs the model; default ``"cuda"`` if ``num_gpus`` else ``"cpu"``.
    hop_seconds : float, optional
        Window hop for network embedders (default: their clip length).
    extensions : sequence of str
        Extensions searched for in folders.
    overwrite : bool
        Replace an existing ``output``.
    progress : bool
        Ray Data's progress bars.

    Returns
    -------
    RayReport
        ``rows`` (without ``output``): dicts with the columns of
        :data:`~torchmusic.recommend.catalog.imports.EMBEDDING_COLUMNS`: ``vector``
        a list of ``dim`` floats (unit norm), ``model`` the :class:`ModelInfo` JSON,
        ``error`` None or the reason; ``failed`` lists the error rows.

    Raises
    ------
    DependencyError
        Ray is not installed (``pip install 'torchmusic[ray]'``).
    ParameterError
        A bad argument, an existing ``output``, or no audio files.

    Examples
    --------
    >>> from torchmusic.scale import embed_dataset
    >>> report = embed_dataset(["music/"], "mfcc", output="emb.parquet")  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    '250 track(s), 1 failed -> emb.parquet (parquet) in 41.3 s (Ray)'
    """
    from torchmusic.scale.ray_workers import EmbedActor

    device = device or ("cuda" if num_gpus else "cpu")
    return _run(
        EmbedActor,
        {"model": model, "device": device, "hop_seconds": hop_seconds},
        paths_or_ray_dataset,
        output=output,
        format=format,
        source=source,
        concurrency=concurrency,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        batch_size=batch_size,
        address=address,
        extensions=extensions,
        overwrite=overwrite,
        progress=progress,
    )


def predict_dataset(
    paths_or_ray_dataset: Inputs,
    model: str | os.PathLike[str],
    *,
    top_k: int = 3,
    timeline: bool = False,
    output: str | os.PathLike[str] | None = None,
    format: str | None = None,
    source: str = "auto",
    concurrency: int | tuple[int, int] | None = None,
    num_cpus: float = 0.5,
    num_gpus: float = 0,
    batch_size: int = 4,
    address: str | None = None,
    device: str | None = None,
    hop_seconds: float | None = None,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    overwrite: bool = False,
    progress: bool = True,
) -> RayReport:
    """Top-k labels of every file of a library with a classifier, on Ray.

    Rows are ``TrackPrediction.to_dict()`` (``path``, ``name``, ``duration``,
    ``labels`` ``[{label, probability}]``, ``segments``) plus ``error``. Parameters
    are those of :func:`embed_dataset`, with ``model`` a classifier model file or
    shipped name and ``top_k`` / ``timeline`` as in
    :meth:`torchmusic.serve.predict.Predictor.predict_file`.

    Returns
    -------
    RayReport

    Examples
    --------
    >>> report = predict_dataset(["samples/"], "drums", top_k=2)  # doctest: +SKIP
    >>> report.rows[0]["labels"][0]  # doctest: +SKIP
    {'label': 'kick', 'probability': 0.97}
    """
    from torchmusic.scale.ray_workers import PredictActor

    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ParameterError(f"top_k={top_k!r} must be a positive integer")
    device = device or ("cuda" if num_gpus else "cpu")
    kwargs = {
        "model": model,
        "device": device,
        "hop_seconds": hop_seconds,
        "top_k": top_k,
        "timeline": timeline,
    }
    return _run(
        PredictActor,
        kwargs,
        paths_or_ray_dataset,
        output=output,
        format=format,
        source=source,
        concurrency=concurrency,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        batch_size=batch_size,
        address=address,
        extensions=extensions,
        overwrite=overwrite,
        progress=progress,
    )
