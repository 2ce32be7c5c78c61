"""Using trained models: prediction (:mod:`~torchmusic.serve.predict`) and evaluation.

Nothing here imports Lightning or training code; a model file is all that is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

from torchmusic.serve.predict import PredictionReport, Predictor, TrackPrediction, predict_paths

__all__ = ["PredictionReport", "Predictor", "TrackPrediction", "evaluate_model", "predict_paths"]


def __getattr__(name: str) -> Any:
    # Evaluation pulls in scikit-learn and matplotlib; load it only when asked for.
    if name == "evaluate_model":
        return importlib.import_module("torchmusic.serve.evaluate").evaluate_model
    raise AttributeError(f"module 'torchmusic.serve' has no attribute {name!r}")
