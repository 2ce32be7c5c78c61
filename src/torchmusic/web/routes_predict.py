"""``POST /api/predict`` (tags with a timeline) and ``POST /api/features`` (PNG + arrays)."""

from __future__ import annotations

import base64
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response

from torchmusic.web.state import ServerState, state

router = APIRouter(tags=["analysis"])


@router.post("/predict")
async def predict(
    file: UploadFile = File(..., description="audio: WAV, FLAC, OGG/Opus, MP3, AIFF, AU"),
    model: str | None = Form(None, description="classifier name (default: the server's)"),
    top_k: int = Form(3, ge=1, le=100),
    timeline: bool = Form(True, description="also the top-k of every window"),
    server: ServerState = Depends(state),
) -> dict[str, Any]:
    """Top-k labels of the whole upload and, with ``timeline``, of each window."""
    name = model or server.settings.classifier
    server.models.path(name)  # 404 before the upload is stored
    async with server.upload(file) as path:

        def work() -> dict[str, Any]:
            # Loaded on a worker (the first time only), never on the event loop.
            predictor = server.models.get("classifier", name)
            pred = predictor.predict_file(path, top_k=top_k, timeline=timeline)
            out = pred.to_dict()
            out.update(path=None, name=file.filename or "upload", model=name)
            out["clip_seconds"] = predictor.clip_seconds
            return out

        return await server.pool().run(work)


@router.post(
    "/features",
    responses={200: {"content": {"application/json": {}, "image/png": {}}}},
)
async def features(
    file: UploadFile = File(...),
    kind: Literal["logmel", "chroma"] = Form("logmel"),
    n_mels: int = Form(128, ge=8, le=256),
    hop_length: int = Form(512, ge=64, le=8192),
    n_fft: int = Form(2048, ge=128, le=16384),
    format: Literal["json", "png"] = Form("json", description="json: arrays + PNG as data URL"),
    arrays: bool = Form(True, description="json: include the values (false: PNG and shape only)"),
    server: ServerState = Depends(state),
) -> Any:
    """Log-mel or chroma of the upload as a PNG and as JSON arrays, with the config used."""
    from torchmusic.features import FeatureConfig

    cfg = FeatureConfig(kind=kind, n_mels=n_mels, hop_length=hop_length, n_fft=n_fft)
    async with server.upload(file) as path:

        def work() -> tuple[Any, bytes, float]:
            from torchmusic import audio
            from torchmusic.web.png import matrix_png

            y, _ = audio.load(path, sr=cfg.sr, mono=True)
            values = cfg.compute(y).cpu().numpy()
            return values, matrix_png(values, scale=8 if kind == "chroma" else 1), len(y) / cfg.sr

        values, png, duration = await server.pool().run(work)
    if format == "png":
        return Response(png, media_type="image/png")
    out = {
        "name": file.filename,
        "duration": duration,
        "config": cfg.to_dict(),
        "shape": list(values.shape),
        "frame_seconds": cfg.hop_length / cfg.sr,
        "png": "data:image/png;base64," + base64.b64encode(png).decode(),
    }
    if arrays:  # 10 minutes of log-mel are about 20 MB of JSON: the page does without
        out["data"] = values.round(3).tolist()
    return out
