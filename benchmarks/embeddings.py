"""Embedding evaluation suite (issue 14, item 4): retrieval, linear probes and cost.

Run::

    nice -n 15 python benchmarks/embeddings.py \\
        --models mfcc-v1=mfcc-v1 mfcc=mfcc drums=drums [encoder=runs/music-embed/model.safetensors \\
                 random=runs/music-embed/model.safetensors]
    nice -n 15 python benchmarks/embeddings.py --limit 3 --models mfcc=mfcc   # quick check

Every row is computed the same way for every embedder (``--models NAME=SPEC``; SPEC is
``mfcc`` (v2, standardised MFCC statistics), ``mfcc-v1`` (the legacy MFCC mean), a model
file or a shipped name (``drums``, ``music-embed``), or ``random:FILE`` (``random=FILE``
for short): FILE's architecture with its weights re-initialised, seed 0, the usual
baseline of a self-supervised encoder). A model that fails to load is reported and skipped.
Embeddings are ``embedder.embed_waveform`` of mono excerpts decoded (only the excerpt) at
the embedder's sample rate; they are cached in ``OUT/embeddings-cache/<fingerprint>.npz``
(``--no-cache`` recomputes).

Data (none of it trains the ``mfcc`` statistics; the encoder may train on the soundtracks'
``train`` rows, the demo corpus's ``train`` clips and fold 0's training kits only):

- ``--soundtracks`` manifest (``torchmusic datasets build soundtracks --out /tmp/soundtracks``):
  its ``valid`` + ``test`` rows are held out;
- held-out game music never used for training: ufoai and nexuiz (extracted from the
  Debian packages' .pk3 zips into ``--extra-music`` when missing), planetblupi, pushover,
  asc (``apt-get install ufoai-music nexuiz-music planetblupi-music-ogg pushover-data
  asc-music``); GPL-2+ / CC BY / CC BY-SA / GPL-3+, used for evaluation only;
- the music recordings of ``--recordings`` (speech, birds, whales, dogs left out by
  their .txt);
- the demo corpus ``--demo`` (``torchmusic datasets build demo --out /tmp/democorpus``);
- drum one-shots ``--drums`` (``torchmusic datasets build drums --out /tmp/drumsds``),
  fold 0: kit-disjoint train / test.

Protocol:

- **Retrieval**: pool = held-out soundtracks, all extra game music, the music recordings
  and the demo corpus's non-train clips. Two non-overlapping ``--excerpt`` s excerpts per
  track, centred at 30 % and 70 % of it (moved apart when they would overlap; tracks
  shorter than two excerpts are skipped and counted). Every excerpt queries all others by
  cosine; the rank of its partner (ties counted against it) gives top-1, top-5 and MRR
  over all 2N queries, and top-5 per source.
- **Linear probes**: StandardScaler + LogisticRegression(C=1, max_iter=5000), the same
  for every embedder, 3 seeds, macro-F1 (mean ± std):
  ``drums``: fold 0's training kits (train + valid rows, each file once although the
  manifest repeats rare classes, first 1 s of each hit; a stratified 80 % subsample per
  seed) -> its test kits;
  ``tune type`` and ``instrument family``: all 250 demo clips (``--demo-clips held-out``:
  the 80 non-train ones; the encoder never sees their labels, but it may have seen the
  train clips' audio), the middle ``--demo-seconds`` (10) of each, split by tune (one
  clip per tune), 30 % of the tunes of each class held out per seed;
  ``game source``: which held-out game package (ufoai, nexuiz, planetblupi, pushover:
  those with >= 10 tracks) a 10 s clip comes from, 3 clips per track (centred at 25,
  50, 75 %), split by track, 30 % of each package's tracks held out per seed.
  Splits are grouped and stratified (a GroupShuffleSplit that keeps every class in the
  test part).
- **Cost**: seconds to embed one minute of audio (a 60 s real excerpt; median of 3
  after a warm-up, ``--threads`` torch threads, and on the GPU when there is one),
  embedding size and parameters.

Output: markdown tables and ``OUT/embeddings.json``; at the end, which of the issue's
targets hold (the encoder is a model named ``encoder`` or ``music-embed``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import itertools
import os
import statistics
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from _common import DEFAULT_OUT, SHARED_DATA, print_table, write_json

SOUNDTRACKS_CMD = "torchmusic datasets build soundtracks --out /tmp/soundtracks"
DEMO_CMD = "torchmusic datasets build demo --out /tmp/democorpus"
DRUMS_CMD = "torchmusic datasets build drums --out /tmp/drumsds"
PK3 = {  # package -> (zip, member folder)
    "ufoai": (Path("/usr/share/games/ufoai/base/0music.pk3"), "music/"),
    "nexuiz": (Path("/usr/share/games/nexuiz/data/music.pk3"), "sound/cdtracks/"),
}
FOLDERS = {
    "planetblupi": Path("/usr/share/planetblupi/music"),
    "pushover": Path("/usr/share/pushover/themes"),
    "asc": Path("/usr/share/games/asc/music"),
}
DEBIAN = {
    "ufoai": "ufoai-music",
    "nexuiz": "nexuiz-music",
    "planetblupi": "planetblupi-music-ogg",
    "pushover": "pushover-data",
    "asc": "asc-music",
}
AUDIO_EXT = {".ogg", ".mp3", ".flac", ".wav", ".opus"}
NOT_MUSIC = ("librispeech", "read by", "narrated", "bird", "whale", "howling")
SOURCE_TASK_MIN_TRACKS = 10
RETRIEVAL_CENTRES = (0.3, 0.7)
SOURCE_CENTRES = (0.25, 0.5, 0.75)
DRUM_SECONDS = 1.0
PROBE_TASKS = ("drums", "tune type", "instrument family", "game source")
NON_DRUM_TASKS = PROBE_TASKS[1:]


# -- items ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Track:
    """One audio file with what the tasks need to know about it."""

    path: Path
    source: str
    seconds: float
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, name: str) -> str:
        return dict(self.labels)[name]


@dataclasses.dataclass(frozen=True)
class Excerpt:
    """``duration`` seconds (``None``: to the end) of ``path`` from ``offset``."""

    path: Path
    offset: float = 0.0
    duration: float | None = None

    @property
    def key(self) -> str:
        return f"{self.path}|{self.offset:.3f}|{self.duration}"


def excerpt_offsets(seconds: float, length: float, centres: Sequence[float]) -> list[float] | None:
    """Start times of ``len(centres)`` non-overlapping excerpts of ``length`` s.

    Each is centred at ``centre * seconds`` and moved inside the track; when that makes
    neighbours overlap they are spread evenly from the start to the end instead.
    ``None`` when the track is shorter than all of them end to end.
    """
    n = len(centres)
    if seconds < n * length:
        return None
    starts = [min(max(c * seconds - length / 2, 0.0), seconds - length) for c in centres]
    if any(b - a < length for a, b in itertools.pairwise(starts)):
        starts = list(np.linspace(0.0, seconds - length, n)) if n > 1 else [0.0]
    return [round(float(s), 3) for s in starts]


# -- data sources ---------------------------------------------------------------------------
class Missing(Exception):
    """A data source is absent; the message says what to run."""


def read_csv(path: Path, command: str) -> list[dict[str, str]]:
    if not path.is_file():
        raise Missing(f"{path} is missing: run `{command}`")
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def audio_seconds(path: Path) -> float:
    import soundfile as sf

    return float(sf.info(str(path)).duration)


def soundtrack_tracks(manifest: Path) -> list[Track]:
    """The held-out (valid + test) rows of the soundtracks manifest."""
    rows = read_csv(manifest, SOUNDTRACKS_CMD)
    return [
        Track(
            _resolve(manifest, r["path"]),
            "soundtracks",
            float(r["seconds"]),
            (("package", r["package"]),),
        )
        for r in rows
        if r["split"] in ("valid", "test")
    ]


def _resolve(manifest: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else manifest.parent / p


def extract_pk3(pk3: Path, member_folder: str, dest: Path) -> list[Path]:
    """The .ogg members of ``member_folder`` in ``pk3`` (a zip), extracted into ``dest``
    once (atomically, file by file); returns the extracted files, sorted."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(pk3) as z:
        for name in z.namelist():
            if not (name.startswith(member_folder) and name.endswith(".ogg")):
                continue
            target = dest / Path(name).name
            if target.is_file():
                continue
            tmp = target.with_suffix(".part")
            tmp.write_bytes(z.read(name))
            os.replace(tmp, target)
    return sorted(dest.glob("*.ogg"))


def game_music(cache: Path) -> dict[str, list[Path]]:
    """Held-out game music per package; absent packages are reported and left out."""
    found: dict[str, list[Path]] = {}
    for name, (pk3, folder) in PK3.items():
        dest = cache / f"{name}-music"
        found[name] = (
            extract_pk3(pk3, folder, dest) if pk3.is_file() else sorted(dest.glob("*.ogg"))
        )
    for name, folder in FOLDERS.items():
        found[name] = sorted(p for p in folder.glob("*") if p.suffix.lower() in AUDIO_EXT)
    for name in [n for n, paths in found.items() if not paths]:
        del found[name]
        print(f"note: no {name} music: `apt-get install {DEBIAN[name]}`", flush=True)
    return found


def is_music(description: str) -> bool:
    text = description.lower()
    return not any(word in text for word in NOT_MUSIC)


def music_recordings(folder: Path) -> list[Path]:
    """The recordings whose .txt does not describe speech or animal sounds."""
    if not folder.is_dir():
        raise Missing(f"{folder} is missing (the shared data's recordings)")
    keep = []
    for path in sorted(folder.glob("*.ogg")):
        txt = path.with_suffix(".txt")
        if txt.is_file() and is_music(txt.read_text(encoding="utf-8", errors="replace")):
            keep.append(path)
    return keep


def demo_tracks(manifest: Path, *, splits: Iterable[str] | None = None) -> list[Track]:
    rows = read_csv(manifest, DEMO_CMD)
    wanted = None if splits is None else set(splits)
    return [
        Track(
            _resolve(manifest, r["path"]),
            "demo",
            float(r["duration_s"]),
            (
                ("tune type", r["tune_type"]),
                ("instrument family", r["instrument_family"]),
                ("group", r["source"]),
            ),
        )
        for r in rows
        if wanted is None or r["split"] in wanted
    ]


def limit_per(items: list[Any], key: Callable[[Any], Any], n: int | None) -> list[Any]:
    """At most ``n`` items (tracks, manifest rows) per ``key`` (all when ``n`` is None), order kept."""
    if n is None:
        return items
    seen: dict[Any, int] = {}
    out = []
    for item in items:
        seen[key(item)] = seen.get(key(item), 0) + 1
        if seen[key(item)] <= n:
            out.append(item)
    return out


def retrieval_pool(args: argparse.Namespace, games: dict[str, list[Path]]) -> list[Track]:
    """Every held-out music track of every available source (``--limit`` per source)."""
    tracks: list[Track] = []
    loaders: list[tuple[str, Callable[[], list[Track]]]] = [
        ("soundtracks", lambda: soundtrack_tracks(args.soundtracks)),
        ("recordings", lambda: _plain(music_recordings(args.recordings), "recordings")),
        ("demo", lambda: demo_tracks(args.demo, splits=("valid", "test"))),
    ]
    for name, paths in games.items():
        loaders.insert(-1, (name, lambda p=paths, n=name: _plain(p, n)))
    for name, load in loaders:
        try:
            tracks += limit_per(load(), lambda t: t.source, args.limit)
        except Missing as exc:
            print(f"note: retrieval pool without {name}: {exc}", flush=True)
    return tracks


def _plain(paths: Iterable[Path], source: str) -> list[Track]:
    return [Track(p, source, audio_seconds(p)) for p in paths]


# -- embedders ------------------------------------------------------------------------------
def parse_models(items: Sequence[str]) -> dict[str, str]:
    """``NAME=SPEC`` (or a bare SPEC, named after itself) -> ``{name: spec}``;
    ``random=FILE`` means ``random:FILE``."""
    models: dict[str, str] = {}
    for item in items:
        name, _, spec = item.partition("=")
        name, spec = (name, spec) if spec else (item, item)
        if name == "random" and not spec.startswith("random:"):
            spec = f"random:{spec}"
        models[name] = spec
    return models


def reset_parameters(module: Any) -> None:
    """Re-initialise one module's own parameters (for ``model.apply``)."""
    reset = getattr(module, "reset_parameters", None)
    if callable(reset):
        reset()


def build_embedder(spec: str, *, device: str = "cpu", seed: int = 0) -> Any:
    """The embedder of a ``--models`` SPEC."""
    import torchmusic.embed as E

    if spec == "mfcc":
        return E.MFCCEmbedder(device=device)
    if spec == "mfcc-v1":
        legacy = getattr(E, "MFCCMeanEmbedder", None) or E.MFCCEmbedder  # before v2: v1
        return legacy(device=device)
    if spec.startswith("random:"):
        return randomised(E.get_embedder(spec[len("random:") :], device=device), seed=seed)
    return E.get_embedder(spec, device=device)


def randomised(embedder: Any, *, seed: int) -> Any:
    """``embedder`` with its network's weights re-initialised (seed ``seed``) in place and
    its fingerprint changed accordingly; a fused embedder (``music-embed``) gets a
    re-initialised encoder and keeps its other parts (the control that says what the
    training of the encoder adds to the fusion)."""
    import torch

    parts = getattr(embedder, "parts", None)
    if parts is not None:
        from torchmusic.embed.fused import FusedEmbedder

        new = {n: randomised(e, seed=seed) if hasattr(e, "model") else e for n, e in parts.items()}
        info = embedder.info
        return FusedEmbedder(
            list(new.items()),
            weights=embedder.weights,
            name=f"random:{info.name}",
            version=info.version,
            source=info.source,
        )

    torch.manual_seed(seed)
    embedder.model.apply(reset_parameters)
    embedder.model.eval()
    info = embedder.info
    key = f"random-init:seed={seed}:{info.fingerprint}"
    embedder._info = dataclasses.replace(
        info, name=f"random:{info.name}", fingerprint=hashlib.sha256(key.encode()).hexdigest()[:32]
    )
    return embedder


def load_models(models: dict[str, str], *, seed: int) -> tuple[dict[str, Any], dict[str, str]]:
    """``(embedders, errors)``: a model that fails to load is reported, not fatal."""
    loaded, errors = {}, {}
    for name, spec in models.items():
        try:
            loaded[name] = build_embedder(spec, seed=seed)
            print(f"model {name} = {spec}: {loaded[name].info.describe()}", flush=True)
        except Exception as exc:  # a benchmark reports and goes on
            errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"model {name} = {spec} skipped: {errors[name]}", flush=True)
    return loaded, errors


def n_parameters(embedder: Any) -> int:
    parts = getattr(embedder, "parts", None)
    if parts is not None:
        return sum(n_parameters(e) for e in parts.values())
    model = getattr(embedder, "model", None)
    return int(sum(p.numel() for p in model.parameters())) if model is not None else 0


# -- embedding with a cache -----------------------------------------------------------------
class EmbeddingCache:
    """``folder/<fingerprint>.npz`` (ids + vectors) per embedder; ``folder=None``: memory only."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.tables: dict[str, dict[str, np.ndarray]] = {}
        self.dirty: set[str] = set()

    def table(self, fingerprint: str) -> dict[str, np.ndarray]:
        if fingerprint not in self.tables:
            self.tables[fingerprint] = self._read(fingerprint)
        return self.tables[fingerprint]

    def _read(self, fingerprint: str) -> dict[str, np.ndarray]:
        if self.folder is None or not (self.folder / f"{fingerprint}.npz").is_file():
            return {}
        with np.load(self.folder / f"{fingerprint}.npz", allow_pickle=False) as data:
            return dict(zip(data["ids"].tolist(), data["vectors"], strict=True))

    def put(self, fingerprint: str, key: str, vector: np.ndarray) -> None:
        self.table(fingerprint)[key] = vector
        self.dirty.add(fingerprint)

    def save(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for fp in sorted(self.dirty):
            table = self.tables[fp]
            tmp = self.folder / f"{fp}.part.npz"
            np.savez(
                tmp, ids=np.array(list(table), dtype=str), vectors=np.stack(list(table.values()))
            )
            os.replace(tmp, self.folder / f"{fp}.npz")
        self.dirty.clear()


def decode(excerpt: Excerpt, sr: int) -> Any:
    """Mono float32 tensor of just the excerpt, at ``sr``."""
    from torchmusic import audio

    y, _ = audio.load(
        excerpt.path, sr=sr, mono=True, offset=excerpt.offset, duration=excerpt.duration
    )
    return y


def embed_all(
    embedders: dict[str, Any], excerpts: Sequence[Excerpt], cache: EmbeddingCache, *, what: str
) -> dict[str, np.ndarray]:
    """``{name: (len(excerpts), dim)}``; each excerpt decoded once per sample rate, and only
    for the embedders that lack it in the cache. A model that raises is dropped (reported)."""
    failed: set[str] = set()
    t0, done = time.perf_counter(), 0
    for i, ex in enumerate(excerpts):
        todo = [
            n
            for n, e in embedders.items()
            if n not in failed and ex.key not in cache.table(e.info.fingerprint)
        ]
        audio_by_sr: dict[int, Any] = {}
        for name in todo:
            emb = embedders[name]
            sr = emb.feature.sr
            if sr not in audio_by_sr:  # a file that cannot be decoded stops the run
                audio_by_sr[sr] = decode(ex, sr)
            try:
                cache.put(emb.info.fingerprint, ex.key, emb.embed_waveform(audio_by_sr[sr]))
            except Exception as exc:  # a benchmark reports and goes on
                print(f"{name} failed on {ex.key}: {type(exc).__name__}: {exc}", flush=True)
                failed.add(name)
        done += bool(todo)
        if todo and (i + 1) % 100 == 0:
            print(
                f"  {what}: {i + 1}/{len(excerpts)} ({time.perf_counter() - t0:.0f} s)", flush=True
            )
            cache.save()
    cache.save()
    print(
        f"{what}: {len(excerpts)} excerpts, {done} embedded now ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    return {
        name: np.stack([cache.table(e.info.fingerprint)[ex.key] for ex in excerpts])
        for name, e in embedders.items()
        if name not in failed
    }


# -- retrieval ------------------------------------------------------------------------------
def partner_ranks(vectors: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Rank (1 = nearest) of each excerpt's partner (the other excerpt of its track) among
    all other excerpts, by cosine; ties count against the query."""
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = v @ v.T
    n = len(owner)
    same = owner[:, None] == owner[None, :]
    np.fill_diagonal(same, False)
    if not (same.sum(axis=1) == 1).all():
        raise ValueError("every track must have exactly two excerpts")
    partner = same.argmax(axis=1)
    target = sims[np.arange(n), partner]
    rivals = sims >= target[:, None]
    rivals[np.arange(n), np.arange(n)] = False
    rivals[np.arange(n), partner] = False
    return 1 + rivals.sum(axis=1)


def retrieval_scores(ranks: np.ndarray, sources: np.ndarray) -> dict[str, Any]:
    return {
        "top1": float((ranks <= 1).mean()),
        "top5": float((ranks <= 5).mean()),
        "mrr": float((1.0 / ranks).mean()),
        "n_queries": len(ranks),
        "top5_by_source": {s: float((ranks[sources == s] <= 5).mean()) for s in np.unique(sources)},
    }


def retrieval_items(pool: list[Track], length: float) -> tuple[list[Excerpt], list[int], list[str]]:
    """Two excerpts per long-enough track: ``(excerpts, owner index, source)``; a track too
    short is left out (and counted by the caller)."""
    excerpts, owner, source = [], [], []
    for i, track in enumerate(pool):
        starts = excerpt_offsets(track.seconds, length, RETRIEVAL_CENTRES)
        for s in starts or []:
            excerpts.append(Excerpt(track.path, s, length))
            owner.append(i)
            source.append(track.source)
    return excerpts, owner, source


def run_retrieval(args, embedders, cache, games) -> tuple[dict[str, Any], dict[str, Any]]:
    pool = retrieval_pool(args, games)
    excerpts, owner, source = retrieval_items(pool, args.excerpt)
    kept = set(owner)
    counts: dict[str, dict[str, int]] = {}
    for i, t in enumerate(pool):
        c = counts.setdefault(t.source, {"tracks": 0, "too_short": 0})
        c["tracks" if i in kept else "too_short"] += 1
    info = {
        "per_source": counts,
        "tracks": len(kept),
        "sources": len(counts),
        "too_short": sum(c["too_short"] for c in counts.values()),
        "excerpt_seconds": args.excerpt,
    }
    print_table(
        "Retrieval pool",
        ["source", "tracks", "too short (skipped)"],
        [[s, c["tracks"], c["too_short"]] for s, c in counts.items()]
        + [["total", info["tracks"], info["too_short"]]],
    )
    if info["tracks"] < 200 or info["sources"] < 4:
        print(
            f"note: the pool ({info['tracks']} tracks, {info['sources']} sources) is smaller "
            "than the protocol's 200 tracks from 4 sources",
            flush=True,
        )
    if not excerpts:
        return info, {}
    vectors = embed_all(embedders, excerpts, cache, what="retrieval")
    owner_a, source_a = np.array(owner), np.array(source)
    return info, {
        name: retrieval_scores(partner_ranks(v, owner_a), source_a) for name, v in vectors.items()
    }


# -- probes ---------------------------------------------------------------------------------
def stratified_group_split(
    labels: Sequence[str], groups: Sequence[str], *, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(train rows, test rows)``: whole groups, ``round(test_size * n)`` (>= 1 when a class
    has >= 2 groups) of the groups of each class held out."""
    rng = np.random.default_rng(seed)
    group_label = {g: lab for g, lab in zip(groups, labels, strict=True)}
    test_groups: set[str] = set()
    for lab in sorted(set(labels)):
        gs = sorted(g for g, gl in group_label.items() if gl == lab)
        n_test = max(1, round(test_size * len(gs))) if len(gs) >= 2 else 0
        test_groups.update(rng.permutation(gs)[:n_test].tolist())
    is_test = np.array([g in test_groups for g in groups])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def probe_score(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Macro-F1 on ``test`` of a standardised logistic regression fitted on ``train``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(y[train])) < 2 or len(test) == 0:
        return float("nan")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    clf.fit(x[train], y[train])
    return float(f1_score(y[test], clf.predict(x[test]), average="macro"))


def summary(scores: list[float]) -> dict[str, Any]:
    ok = [s for s in scores if not np.isnan(s)]
    return {
        "mean": float(np.mean(ok)) if ok else float("nan"),
        "std": float(np.std(ok)) if ok else float("nan"),
        "scores": scores,
    }


def probe_task(vectors, labels, splits) -> dict[str, dict[str, Any]]:
    y = np.asarray(labels)
    return {
        name: summary([probe_score(v, y, tr, te) for tr, te in splits])
        for name, v in vectors.items()
    }


def drums_probe(args, embedders, cache) -> dict[str, Any]:
    from sklearn.model_selection import train_test_split

    rows = unique_rows(read_csv(args.drums, DRUMS_CMD), "path")
    rows = [r for r in rows if r["split"] in ("train", "valid", "test")]
    if args.limit:
        rows = limit_per(rows, lambda r: (r["kit"], r["label"]), args.limit)
    excerpts = [Excerpt(_resolve(args.drums, r["path"]), 0.0, DRUM_SECONDS) for r in rows]
    labels = np.array([r["label"] for r in rows])
    test = np.flatnonzero([r["split"] == "test" for r in rows])
    train_all = np.flatnonzero([r["split"] != "test" for r in rows])
    splits = []
    for seed in args.seeds:
        tr, _ = train_test_split(
            train_all,
            train_size=0.8,
            random_state=seed,
            stratify=labels[train_all] if not args.limit else None,
        )
        splits.append((np.sort(tr), test))
    print(
        f"drums probe: {len(train_all)} training hits, {len(test)} test hits "
        f"({len({r['kit'] for r in rows if r['split'] == 'test'})} test kits)",
        flush=True,
    )
    return probe_task(embed_all(embedders, excerpts, cache, what="drums"), labels, splits)


def unique_rows(rows: list[dict[str, str]], column: str) -> list[dict[str, str]]:
    """The first row of each ``column`` value (the fold manifests repeat training rows of
    the smaller classes to balance them)."""
    seen: set[str] = set()
    out = []
    for r in rows:
        if r[column] not in seen:
            seen.add(r[column])
            out.append(r)
    return out


def demo_probes(args, embedders, cache) -> dict[str, dict[str, Any]]:
    splits_wanted = None if args.demo_clips == "all" else ("valid", "test")
    tracks = demo_tracks(args.demo, splits=splits_wanted)
    tracks = limit_per(tracks, lambda t: t.label("tune type"), args.limit)
    excerpts = [demo_excerpt(t, args.demo_seconds) for t in tracks]
    vectors = embed_all(embedders, excerpts, cache, what="demo")
    groups = [t.label("group") for t in tracks]
    results = {}
    for task in ("tune type", "instrument family"):
        labels = [t.label(task) for t in tracks]
        splits = [stratified_group_split(labels, groups, test_size=0.3, seed=s) for s in args.seeds]
        results[task] = probe_task(vectors, labels, splits)
    print(f"demo probes: {len(tracks)} clips ({args.demo_clips})", flush=True)
    return results


def demo_excerpt(track: Track, seconds: float) -> Excerpt:
    if seconds >= track.seconds:
        return Excerpt(track.path, 0.0, None)
    return Excerpt(track.path, round((track.seconds - seconds) / 2, 3), seconds)


def source_probe(args, embedders, cache, games) -> dict[str, Any]:
    packages = {n: p for n, p in games.items() if len(p) >= SOURCE_TASK_MIN_TRACKS}
    excerpts, labels, groups = [], [], []
    for name, paths in packages.items():
        for path in paths[: args.limit] if args.limit else paths:
            for s in excerpt_offsets(audio_seconds(path), args.excerpt, SOURCE_CENTRES) or []:
                excerpts.append(Excerpt(path, s, args.excerpt))
                labels.append(name)
                groups.append(str(path))
    print(
        f"game source probe: {len(set(groups))} tracks of {sorted(packages)}, "
        f"{len(excerpts)} clips",
        flush=True,
    )
    if len(packages) < 2:
        raise Missing("fewer than two game music packages with >= 10 tracks")
    vectors = embed_all(embedders, excerpts, cache, what="game source")
    splits = [stratified_group_split(labels, groups, test_size=0.3, seed=s) for s in args.seeds]
    return probe_task(vectors, labels, splits)


def run_probes(args, embedders, cache, games) -> dict[str, dict[str, Any]]:
    """``{task: {model: {mean, std, scores}}}``; a task whose data is missing is skipped."""
    tasks: dict[str, Callable[[], dict[str, Any]]] = {
        "drums": lambda: {"drums": drums_probe(args, embedders, cache)},
        "demo": lambda: demo_probes(args, embedders, cache),
        "game source": lambda: {"game source": source_probe(args, embedders, cache, games)},
    }
    results: dict[str, dict[str, Any]] = {}
    for name, fn in tasks.items():
        try:
            results.update(fn())
        except Missing as exc:
            print(f"note: probe {name} skipped: {exc}", flush=True)
    return results


# -- cost -----------------------------------------------------------------------------------
def cost_excerpt(pool_paths: Sequence[Path]) -> Excerpt:
    """A real 60 s excerpt: the middle minute of the first track of >= 90 s."""
    for path in pool_paths:
        seconds = audio_seconds(path)
        if seconds >= 90:
            return Excerpt(path, round(seconds / 2 - 30, 3), 60.0)
    raise Missing("no track of >= 90 s for the cost measurement")


def seconds_per_minute(embedder: Any, y: Any, *, repeats: int = 3) -> float:
    embedder.embed_waveform(y)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        embedder.embed_waveform(y)  # returns numpy: a GPU run is synchronised
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 60.0 / (y.shape[-1] / embedder.feature.sr)


def run_cost(args, embedders, models, excerpt) -> dict[str, dict[str, Any]]:
    import torch

    torch.set_num_threads(args.threads)
    results = {}
    for name, emb in embedders.items():
        y = decode(excerpt, emb.feature.sr)
        row = {
            "dim": emb.dim,
            "params": n_parameters(emb),
            "cpu_s_per_min": seconds_per_minute(emb, y),
            "gpu_s_per_min": None,
        }
        if torch.cuda.is_available():
            try:
                gpu = build_embedder(models[name], device="cuda", seed=args.random_seed)
                row["gpu_s_per_min"] = seconds_per_minute(gpu, y.to("cuda"))
            except Exception as exc:  # a benchmark reports and goes on
                row["gpu_error"] = f"{type(exc).__name__}: {exc}"
        results[name] = row
    return results


# -- report ---------------------------------------------------------------------------------
def pm(d: dict[str, Any] | None) -> str:
    if not d or np.isnan(d["mean"]):
        return "-"
    return f"{d['mean']:.3f} ± {d['std']:.3f}"


def print_tables(names, retrieval, probes, cost, pool_info) -> None:
    n, length = pool_info.get("tracks", 0), pool_info.get("excerpt_seconds")
    print_table(
        f"Same-track retrieval: {n} tracks, {2 * n} queries ({length} s excerpts)",
        ["model", "top-1", "top-5", "MRR"],
        [
            [m, retrieval[m]["top1"], retrieval[m]["top5"], retrieval[m]["mrr"]]
            for m in names
            if m in retrieval
        ],
    )
    tasks = [t for t in PROBE_TASKS if t in probes]
    print_table(
        "Linear probes: macro-F1, mean ± std over 3 seeds",
        ["model", *tasks],
        [[m, *(pm(probes[t].get(m)) for t in tasks)] for m in names],
    )
    print_table(
        "Cost: seconds to embed one minute of audio",
        ["model", "dim", "parameters", "CPU s/min", "GPU s/min"],
        [
            [
                m,
                c["dim"],
                c["params"],
                c["cpu_s_per_min"],
                "-" if c["gpu_s_per_min"] is None else c["gpu_s_per_min"],
            ]
            for m, c in cost.items()
        ],
    )


def find_role(models: dict[str, str], *, names: Sequence[str], specs: Sequence[str]) -> str | None:
    for name, spec in models.items():
        if name in names or spec in specs:
            return name
    return None


def compare(a: str, b: str, retrieval, probes, tasks) -> list[tuple[str, bool, float, float]]:
    """``(row, a beats b, a's value, b's value)`` on retrieval top-5 and each probe of ``tasks``."""
    rows = []
    if a in retrieval and b in retrieval:
        rows.append(
            (
                "retrieval top-5",
                retrieval[a]["top5"] > retrieval[b]["top5"],
                retrieval[a]["top5"],
                retrieval[b]["top5"],
            )
        )
    for task in tasks:
        ra, rb = probes.get(task, {}).get(a), probes.get(task, {}).get(b)
        if ra and rb:
            rows.append((f"{task} probe", ra["mean"] > rb["mean"], ra["mean"], rb["mean"]))
    return rows


def targets(models, retrieval, probes) -> list[dict[str, Any]]:
    """The issue's targets that can be checked with the models present."""
    mfcc = find_role(models, names=(), specs=("mfcc",))
    v1 = find_role(models, names=(), specs=("mfcc-v1",))
    drums = find_role(models, names=(), specs=("drums",))
    encoder = find_role(models, names=("encoder", "music-embed"), specs=("music-embed",))
    checks = []
    pairs = [
        (encoder, mfcc, PROBE_TASKS, "encoder > mfcc"),
        (encoder, drums, NON_DRUM_TASKS, "encoder > drums (non-drum rows)"),
        (mfcc, v1, (), "mfcc v2 > mfcc v1"),
    ]
    for a, b, tasks, title in pairs:
        if a is None or b is None or (title.startswith("encoder") and mfcc is None):
            continue
        for row, ok, va, vb in compare(a, b, retrieval, probes, tasks):
            checks.append({"target": title, "row": row, "holds": bool(ok), a: va, b: vb})
    return checks


def print_targets(checks: list[dict[str, Any]]) -> None:
    if not checks:
        print("targets: not checked (they need mfcc and the encoder, or mfcc and mfcc-v1)")
        return
    rows = [
        [
            c["target"],
            c["row"],
            "yes" if c["holds"] else "NO",
            ", ".join(f"{k} {v:.3f}" for k, v in c.items() if isinstance(v, float)),
        ]
        for c in checks
    ]
    print_table("Issue 14 targets", ["target", "row", "holds", "values"], rows)


# -- main -----------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--models",
        nargs="+",
        default=["mfcc-v1=mfcc-v1", "mfcc=mfcc", "drums=drums"],
        help="NAME=SPEC: mfcc, mfcc-v1, a model file, a shipped name, random=FILE",
    )
    p.add_argument("--soundtracks", type=Path, default=Path("/tmp/soundtracks/manifest.csv"))
    p.add_argument(
        "--extra-music",
        type=Path,
        default=Path("/tmp/extra_music"),
        help="where the ufoai and nexuiz tracks are extracted",
    )
    p.add_argument("--recordings", type=Path, default=SHARED_DATA / "recordings")
    p.add_argument("--demo", type=Path, default=Path("/tmp/democorpus/manifest.csv"))
    p.add_argument(
        "--demo-clips",
        choices=("all", "held-out"),
        default="all",
        help="demo clips of the probes: all 250, or the non-train ones only",
    )
    p.add_argument("--demo-seconds", type=float, default=10.0, help="middle excerpt of a clip")
    p.add_argument("--drums", type=Path, default=Path("/tmp/drumsds/drums/drums_fold0.csv"))
    p.add_argument("--excerpt", type=float, default=10.0, help="seconds per excerpt")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--random-seed", type=int, default=0, help="seed of the random re-init")
    p.add_argument("--limit", type=int, default=None, help="tracks per source (quick runs)")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the cost timing")
    p.add_argument(
        "--embed-threads",
        type=int,
        default=1,
        help="torch threads of the bulk embedding (1: kind to a shared machine)",
    )
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--skip", nargs="*", default=[], choices=("retrieval", "probes", "cost"))
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.embed_threads)
    start = time.perf_counter()
    models = parse_models(args.models)
    embedders, load_errors = load_models(models, seed=args.random_seed)
    if not embedders:
        print("no model could be loaded", file=sys.stderr)
        return 1
    cache = EmbeddingCache(None if args.no_cache else args.out / "embeddings-cache")
    games = game_music(args.extra_music)
    pool_info, retrieval, probes, cost = {}, {}, {}, {}
    if "retrieval" not in args.skip:
        pool_info, retrieval = run_retrieval(args, embedders, cache, games)
    if "probes" not in args.skip:
        probes = run_probes(args, embedders, cache, games)
    if "cost" not in args.skip:
        cost = run_cost(args, embedders, models, cost_excerpt(cost_paths(args, games)))
    names = list(embedders)
    print_tables(names, retrieval, probes, cost, pool_info)
    checks = targets({n: models[n] for n in names}, retrieval, probes)
    print_targets(checks)
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s")
    write_json(
        args.out / "embeddings.json",
        {
            "args": vars(args),
            "models": {n: {"spec": models[n], **embedders[n].info.to_dict()} for n in names},
            "load_errors": load_errors,
            "pool": pool_info,
            "retrieval": retrieval,
            "probes": probes,
            "probe_metric": "macro-F1",
            "cost": cost,
            "targets": checks,
            "wall_seconds": wall,
        },
    )
    return 0


def cost_paths(args: argparse.Namespace, games: dict[str, list[Path]]) -> list[Path]:
    paths: list[Path] = []
    try:
        paths += [t.path for t in soundtrack_tracks(args.soundtracks)]
    except Missing:
        pass
    return paths + [p for ps in games.values() for p in ps]


if __name__ == "__main__":
    sys.exit(main())
