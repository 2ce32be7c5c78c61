"""``POST /api/generate``: a tune from a generator model, as a job (MIDI + WAV)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from torchmusic.web.jobs import Job
from torchmusic.web.routes_jobs import accepted
from torchmusic.web.state import ServerState, state

router = APIRouter(tags=["generation"])


class GenerateRequest(BaseModel):
    """Settings of one generated tune (see ``torchmusic generate --help``)."""

    model: str | None = Field(None, description="generator name (default: the server's)")
    conditions: dict[str, str] = Field(
        default_factory=dict, description='e.g. {"tune_type": "jig", "key": "D"}'
    )
    bars: int = Field(8, ge=1, le=64)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    temperature: float = Field(1.0, ge=0.0, le=5.0)
    top_p: float | None = Field(0.95, gt=0.0, le=1.0)


@router.post("/generate", status_code=202)
def generate(body: GenerateRequest, server: ServerState = Depends(state)) -> JSONResponse:
    """Start generating; poll ``status_url``. The result has ``tune.mid`` and, when
    FluidSynth and a soundfont are installed, ``tune.wav``."""
    name = body.model or server.settings.generator
    server.models.path(name)  # 404 unknown_model now, not inside the job

    def work(job: Job) -> dict[str, Any]:
        from torchmusic.symbolic import generate_pieces, render_wav, write_midi

        loaded = server.models.get("generator", name)
        job.progress = 0.2
        score = generate_pieces(
            loaded, n=1, bars=body.bars, conditions=body.conditions, seed=body.seed,
            temperature=body.temperature, top_p=body.top_p,
        )[0]  # fmt: skip
        job.progress = 0.7
        job.add_file("tune.mid", write_midi(score, job.folder / "tune.mid"))
        wav = render_wav(score, job.folder / "tune.wav")
        if wav is not None:
            job.add_file("tune.wav", wav)
        return {
            "model": name,
            "conditions": body.conditions,
            "seed": body.seed,
            "bars": body.bars,
            "notes": int(score.note_num()),
            "seconds": round(float(score.to("second").end()), 2),
            "wav": wav is not None,
        }

    return accepted(server.pool().start("generate", work))
