"""Audio-out routes, each a job: ``/api/denoise``, ``/api/vocode``, ``/api/synthesize``.

Each is the upload/job machinery around one ``torchmusic.serve`` call: a checked
upload, a model from the shared cache, WAV files offered from the job's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from torchmusic.web.jobs import Job
from torchmusic.web.routes_jobs import accepted
from torchmusic.web.state import ServerState, state

router = APIRouter(tags=["audio"])


@router.post("/denoise", status_code=202)
async def denoise(
    file: UploadFile = File(...),
    method: str = Form("neural", description="a method or chain, e.g. 'dehum,declick,neural'"),
    strength: float = Form(1.0, ge=0.0, le=1.0),
    model: str = Form("music-denoiser"),
    server: ServerState = Depends(state),
) -> JSONResponse:
    """Denoise an upload; the job's ``denoised.wav`` has the input's rate and channels."""
    from torchmusic.serve.denoise import parse_method

    steps = parse_method(method)  # 422 for an unknown method, before the upload is stored
    if "neural" in steps:
        server.models.path(model)
    path = await server.checked_upload(file)

    def work(job: Job, src: Path) -> dict[str, Any]:
        from torchmusic.serve.denoise import denoise_file

        net = server.models.get("denoiser", model) if "neural" in steps else model
        job.progress = 0.1
        out = job.folder / "denoised.wav"
        report = denoise_file(src, out, model=net, method=method, strength=strength)
        job.add_file("denoised.wav", out)
        return {"method": method, "strength": strength, **_plain(report)}

    return accepted(server.start_with_upload("denoise", path, work))


@router.post("/vocode", status_code=202)
async def vocode(
    file: UploadFile = File(...),
    model: str = Form("music-vocoder"),
    refine: int = Form(0, ge=0, le=256, description="mel-consistency steps after the network"),
    server: ServerState = Depends(state),
) -> JSONResponse:
    """Analysis-resynthesis of an upload through a vocoder; the job's file is ``vocoded.wav``."""
    server.models.path(model)
    path = await server.checked_upload(file)

    def work(job: Job, src: Path) -> dict[str, Any]:
        from torchmusic.serve.vocode import vocode_file

        vocoder = server.models.get("vocoder", model)
        job.progress = 0.1
        out, result = vocode_file(vocoder, src, job.folder / "out", refine=refine)
        final = out.rename(job.folder / "vocoded.wav")
        job.add_file("vocoded.wav", final)
        return {"model": model, "refine": refine, "sample_rate": result.sample_rate}

    return accepted(server.start_with_upload("vocode", path, work))


class SynthesizeRequest(BaseModel):
    """New one-shot sounds from a GAN model (see ``torchmusic synthesize --help``)."""

    model: str = "drum-gan"
    label: str | None = Field(None, description="class, e.g. 'kick'; none: every class in turn")
    n: int = Field(4, ge=1, le=32)
    seed: int = Field(0, ge=0, le=2**31 - 1)


@router.post("/synthesize", status_code=202)
def synthesize(body: SynthesizeRequest, server: ServerState = Depends(state)) -> JSONResponse:
    """Draw ``n`` sounds; the job offers ``hit-<i>.wav``."""
    server.models.path(body.model)

    def work(job: Job) -> dict[str, Any]:
        from torchmusic.serve.synthesize import label_indices, synthesize, write_hits

        gan = server.models.get("gan", body.model)
        labels = label_indices(gan, body.label, body.n)
        audio = synthesize(gan, label=body.label, n=body.n, seed=body.seed)
        names = [f"hit-{i}" for i in range(body.n)]
        for path in write_hits(audio, job.folder, names, sample_rate=gan.sample_rate, png=False):
            job.add_file(path.name, path)
        classes = (
            [gan.labels[int(i)] for i in labels] if labels is not None else [None] * body.n
        )
        return {"model": body.model, "sample_rate": gan.sample_rate, "labels": classes}

    return accepted(server.pool().start("synthesize", work))


def _plain(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if isinstance(v, int | float | str | list | bool)}
