"""``GET /api/jobs/{id}`` (status, progress, result) and its result files."""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, JSONResponse

from torchmusic.web.errors import ApiError
from torchmusic.web.jobs import Job
from torchmusic.web.state import ServerState, state

router = APIRouter(tags=["jobs"])


def accepted(job: Job) -> JSONResponse:
    """``202 Accepted`` with the job's status and where to poll it.

    Parameters
    ----------
    job : Job

    Returns
    -------
    fastapi.responses.JSONResponse
        The job's status with ``status_url``, and a ``Location`` header.
    """
    url = f"/api/jobs/{job.id}"
    body = {**job.to_dict(), "status_url": url}
    return JSONResponse(body, status_code=202, headers={"Location": url})


@router.get("/jobs/{job_id}")
def job_status(job_id: str, server: ServerState = Depends(state)) -> dict[str, Any]:
    """Status (queued, running, done, failed, cancelled), progress 0..1, result and files."""
    return server.pool().get(job_id).to_dict()


@router.get("/jobs/{job_id}/files/{name}", response_class=FileResponse)
def job_file(job_id: str, name: str, server: ServerState = Depends(state)) -> FileResponse:
    """A result file of a finished job."""
    job = server.pool().get(job_id)
    path = job.files.get(name) if job.status == "done" else None
    if path is None or not path.is_file():
        raise ApiError(
            404,
            "unknown_file",
            f"job {job_id} ({job.status}) has no file {name!r}; files: {sorted(job.files)}",
        )
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".mid"):
        media = "audio/midi"
    return FileResponse(path, media_type=media, filename=name)
