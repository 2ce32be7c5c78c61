"""Argument parsers for symbolic music: `datasets build folk`, `train lm`, `generate`, `interpolate`.

Argparse only: this module is imported by ``torchmusic --help`` and must not import
torch, numpy or any other heavy package. Handlers are named as ``"module:function"``
strings and imported when their command runs.
"""

from __future__ import annotations

import argparse


def register(
    sub: argparse._SubParsersAction,
    *,
    datasets: argparse._SubParsersAction,
    train: argparse._SubParsersAction,
) -> None:
    """Add this area's commands: top-level ones to ``sub``, dataset builders to
    ``datasets`` (``torchmusic datasets build NAME``) and training tasks to ``train``
    (``torchmusic train TASK``)."""
