"""``GET /api/health`` (no token needed) and ``GET /api/models``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends

from torchmusic.web.state import ServerState, state

public = APIRouter(tags=["system"])
router = APIRouter(tags=["system"])


@public.get("/api/health")
def health(server: ServerState = Depends(state)) -> dict[str, Any]:
    """Liveness and load: always answers, with or without a token."""
    from torchmusic import __version__

    return {
        "status": "ok",
        "version": __version__,
        "uptime_s": round(time.time() - server.started, 1),
        "pool": server.pool().stats(),
    }


@router.get("/models")
def models(server: ServerState = Depends(state)) -> dict[str, Any]:
    """The models a client may name, which are loaded, versions and the device."""
    import torch

    from torchmusic import __version__

    s = server.settings
    catalog = None
    if s.catalog is not None:
        info = server.catalog().info()
        catalog = {k: info[k] for k in ("tracks", "generation") if k in info}
    return {
        "torchmusic": __version__,
        "torch": torch.__version__,
        "device": s.device,
        "defaults": {"classifier": s.classifier, "generator": s.generator},
        "models": server.models.describe(),
        "catalog": catalog,
        "recommender": None if server.recommender is None else server.recommender.kind,
        "limits": {
            "max_upload_mb": s.max_upload_mb,
            "max_duration_s": s.max_duration_s,
            "workers": s.workers,
            "queue_size": s.queue_size,
            "job_ttl_s": s.job_ttl_s,
        },
    }
