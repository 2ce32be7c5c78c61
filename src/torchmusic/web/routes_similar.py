"""Catalog and recommender routes: similar tracks (by id or upload), track audio, recommendations."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from torchmusic.errors import DataError, ParameterError
from torchmusic.web.errors import ApiError
from torchmusic.web.state import ServerState, state

router = APIRouter(tags=["catalog"])

#: Largest track id: SQLite's INTEGER (a larger one would be a 500 OverflowError there).
MAX_TRACK_ID = 2**63 - 1


def _track(neighbor: Any) -> dict[str, Any]:
    out = neighbor.to_dict()
    out.pop("path", None)  # the server's file system is not the client's business
    out["audio_url"] = f"/api/tracks/{neighbor.id}/audio"
    return out


def _get_track(server: ServerState, track_id: int) -> Any:
    cat = server.catalog()
    try:
        return cat.get(track_id)
    except DataError:
        raise ApiError(
            404, "unknown_track", f"no track {track_id} in the catalog ({len(cat)} tracks)"
        ) from None


@router.get("/tracks")
async def tracks(
    limit: int = Query(100, ge=1, le=10000), server: ServerState = Depends(state)
) -> dict[str, Any]:
    """The catalog's tracks in id order."""
    return await server.pool().run(
        lambda: {"tracks": [_track(t) for t in server.catalog().tracks(limit=limit)]}
    )


@router.get("/tracks/{track_id}/audio", response_class=FileResponse)
async def track_audio(
    track_id: int = PathParam(..., ge=0, le=MAX_TRACK_ID), server: ServerState = Depends(state)
) -> FileResponse:
    """The audio file of a catalog track (ranges supported, for seeking)."""
    track = await server.pool().run(lambda: _get_track(server, track_id))
    path = Path(track.path)
    if not path.is_file():
        raise ApiError(
            404, "missing_audio", f"track {track_id}'s audio file is gone from the server"
        )
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, filename=path.name)


@router.get("/similar")
async def similar_by_id(
    track: int = Query(..., ge=0, le=MAX_TRACK_ID, description="catalog track id"),
    k: int = Query(5, ge=1, le=100),
    server: ServerState = Depends(state),
) -> dict[str, Any]:
    """The ``k`` catalog tracks most similar to catalog track ``track``."""

    def work() -> dict[str, Any]:
        query = _get_track(server, track)
        found = server.catalog().similar(track, k=k)
        return {"query": _track(query), "neighbours": [_track(n) for n in found]}

    return await server.pool().run(work)


@router.post("/similar")
async def similar_by_upload(
    file: UploadFile = File(...),
    k: int = Form(5, ge=1, le=100),
    server: ServerState = Depends(state),
) -> dict[str, Any]:
    """The ``k`` catalog tracks most similar to an uploaded recording."""
    server.require_catalog()  # 404 no_catalog before the upload is stored
    async with server.upload(file) as path:

        def work() -> dict[str, Any]:
            found = server.catalog().similar(path, k=k, device=server.settings.device)
            return {"query": {"name": file.filename}, "neighbours": [_track(n) for n in found]}

        return await server.pool().run(work)


class RecommendRequest(BaseModel):
    """A user id, or items the listener likes (ids or names)."""

    user: str | None = Field(None, description="a user id of the recommender's training data")
    like: list[str] | None = Field(None, description="liked item ids or names", max_length=200)
    k: int = Field(10, ge=1, le=200)


@router.post("/recommend")
async def recommend(body: RecommendRequest, server: ServerState = Depends(state)) -> dict[str, Any]:
    """Top-``k`` items for a user or for liked items, each with its reason."""
    model = server.recommender
    if model is None:
        raise ApiError(
            404, "no_recommender", "this server has no recommender (start it with --recommender)"
        )
    if (body.user is None) == (not body.like):
        raise ApiError(422, "bad_parameter", "give either 'user' or a non-empty 'like' list")

    def work() -> list[Any]:
        if body.user is not None:
            try:
                model.data.user_index(body.user)
            except (ParameterError, KeyError):
                raise ApiError(404, "unknown_user", f"no user {body.user!r} in the data") from None
            return model.recommend(body.user, k=body.k)
        try:
            return model.recommend_similar(body.like, k=body.k)
        except DataError as exc:
            raise ApiError(404, "unknown_item", str(exc)) from None

    recs = await server.pool().run(work)
    return {"model": model.kind, "items": [r.to_dict() for r in recs]}
