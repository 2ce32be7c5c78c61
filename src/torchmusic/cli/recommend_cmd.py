"""``torchmusic train recommend`` (fit a recommender on Last.fm-2k-style data) and
``torchmusic recommend`` (top-k items for a user or for liked items, with reasons).

Settings of ``train recommend`` come from the ``--config`` YAML's section named
after the model (e.g. ``als:``; see ``configs/lastfm.yaml``), then from
``--key value`` overrides (dotted keys reach nested settings, e.g.
``--cf_config.factors 128`` for the hybrid).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from typing import Any

from torchmusic.errors import ParameterError

MODELS = ("popularity", "itemknn", "als", "bpr", "content", "hybrid")


def train(args: argparse.Namespace) -> int:
    """Fit a recommender on ``--data`` and write it to ``--out``."""
    from torchmusic.recommend import load_lastfm, recommender_class
    from torchmusic.training.recommend.settings import RecommendRecipe

    recipe = RecommendRecipe.from_sources(
        config=args.config, model=args.arch, overrides=list(args.overrides or [])
    )
    kind, settings = recipe.settings()
    if kind == "bpr":
        if args.accelerator is not None:
            settings.setdefault("accelerator", args.accelerator)
        settings.setdefault("progress", not args.no_progress)
    if args.devices not in (None, "1", "auto"):
        raise ParameterError(
            f"--devices {args.devices!r}: recommenders train on one device "
            "(the Last.fm-2k model trains in about a minute on one CPU core)"
        )
    _check_sections(kind, list(args.overrides or []))
    try:
        model = recommender_class(kind)(**settings)
    except TypeError as exc:  # an unknown keyword argument, maybe of a nested model
        raise ParameterError(_keyword_message(kind, settings, exc)) from None
    except ParameterError as exc:  # a bad value: name the setting's full key
        text = str(exc)
        if text.partition("=")[0].isidentifier():  # "neighbors=-5 must be ..."
            raise ParameterError(
                f"--{kind}.{text} (a setting of the {kind!r} recommender)"
            ) from None
        raise ParameterError(f"invalid setting of the {kind!r} recommender: {text}") from None
    data = load_lastfm(args.data)
    summary = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in data.summary().items())
    print(f"data: {summary}", file=sys.stderr)
    t0 = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - t0
    out = model.save(args.out)
    print(f"trained {kind} in {seconds:.1f} s")
    tuned = getattr(model, "tuned_", None)
    if tuned:
        print("tuned: " + ", ".join(f"{k}={v:g}" for k, v in tuned.items()))
    print(f"model file: {out}")
    return 0


def _check_sections(kind: str, overrides: list[str]) -> None:
    """Refuse ``--OTHER.key`` overrides for a recommender other than ``kind``: they
    would be silently unused (e.g. ``--itemknn.neighbors`` while training the hybrid)."""
    for token in overrides:
        if not token.startswith("--"):
            continue
        key = token[2:].partition("=")[0]
        section = key.replace("-", "_").partition(".")[0]
        if "." in key and section in MODELS and section != kind:
            raise ParameterError(
                f"--{key}: a setting of the {section!r} recommender, but --arch is {kind!r} "
                f"(default: hybrid); pass --arch {section}, or a setting of {kind!r}"
            )


def _keyword_message(kind: str, settings: dict[str, Any], exc: TypeError) -> str:
    """A ParameterError message for ``Class.__init__() got an unexpected keyword 'x'``."""
    import inspect
    import re

    from torchmusic.recommend import recommender_class

    found = re.search(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(exc))
    if not found:
        return f"invalid settings for the {kind!r} recommender: {exc}"
    owner, name = found.groups()
    cls = recommender_class(kind)
    if owner != cls.__name__:  # a nested model's settings (the hybrid's cf_config)
        return (
            f"{name!r} is not a setting of {owner} (inside the {kind!r} recommender); "
            "check the nested section's keys in configs/lastfm.yaml"
        )
    valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self",)]
    valid = [p for p in valid if not p.startswith("_")]
    return (
        f"--{kind}.{name}: {name!r} is not a setting of the {kind!r} recommender; "
        f"expected one of {valid}"
    )


def _table(recs: list[Any], header: str) -> str:
    lines = [header]
    if not recs:
        return header + "\n(no items left to recommend)"
    width = min(40, max(len(r.name or r.item) for r in recs))
    lines.append(f"{'#':>3}  {'item':<{width}}  {'score':>8}  reason")
    for i, r in enumerate(recs, 1):
        name = (r.name or r.item)[:width]
        lines.append(f"{i:>3}  {name:<{width}}  {r.score:>8.3f}  {r.reason}")
    return "\n".join(lines)


def _csv(recs: list[Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["rank", "item", "name", "score", "reason"])
    for i, r in enumerate(recs, 1):
        writer.writerow([i, r.item, r.name, f"{r.score:.6g}", r.reason])
    return buf.getvalue().rstrip("\n")


def run(args: argparse.Namespace) -> int:
    """Print the top ``-k`` recommendations for ``--user`` or ``--like`` items."""
    from torchmusic.recommend import load_recommender

    model = load_recommender(args.model)
    if args.user is not None:
        recs = model.recommend(args.user, k=args.top_k)
        who = f"user {args.user}"
    else:
        recs = model.recommend_similar(args.like, k=args.top_k)
        who = "liked: " + ", ".join(args.like)
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in recs], indent=2, ensure_ascii=False))
    elif args.format == "csv":
        print(_csv(recs))
    else:
        print(_table(recs, f"{model.kind} recommendations for {who}"))
    return 0
