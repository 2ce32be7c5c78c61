"""Defects found by trying the server with curl: each was a 500, a leaked path or a gap."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import pytest

from conftest import FEATURE, TOKEN, require_serve_extra, write_tone

require_serve_extra()

from fastapi.testclient import TestClient  # noqa: E402

from torchmusic.errors import DataError  # noqa: E402
from torchmusic.web import Settings, create_app  # noqa: E402


def _err(r, status: int, error: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"} and body["error"] == error, body
    return body


def test_wrong_model_errors_name_the_model_never_its_file(client, model_file, tmp_path):
    from torchmusic.pretrained import resolve_model

    tone_bytes = write_tone(tmp_path / "w.wav", 220.0).read_bytes()
    r = client.post("/api/predict", files={"file": ("t.wav", tone_bytes)}, data={"model": "folk"})
    body = _err(r, 422, "wrong_model")
    assert str(resolve_model("folk")) not in body["detail"] and "/" not in body["detail"]
    assert "'folk'" in body["detail"] and "its file" in body["detail"]
    # The operator's own file (a classifier named as a generator): its path stays hidden.
    job = client.post("/api/generate", json={"model": "genre"}).json()
    for _ in range(300):
        status = client.get(job["status_url"]).json()
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert status["status"] == "failed" and status["error"]["error"] == "wrong_model"
    assert str(model_file.parent) not in status["error"]["detail"]
    assert "'genre'" in status["error"]["detail"]


def test_a_missing_operator_model_file_fails_at_start_not_per_request(tmp_path):
    missing = tmp_path / "gone" / "model.safetensors"
    with pytest.raises(DataError, match=r"model\.safetensors"):
        create_app(Settings(models={"gone": str(missing)}, work_dir=tmp_path))


def test_track_ids_past_sqlite_integers_are_422_not_500(client):
    huge = 2**70
    body = _err(client.get(f"/api/tracks/{huge}/audio"), 422, "bad_parameter")
    assert str(huge) in body["detail"]
    _err(client.get("/api/similar", params={"track": huge}), 422, "bad_parameter")
    _err(client.get("/api/tracks/-1/audio"), 422, "bad_parameter")
    # The largest id SQLite holds is still a plain unknown track.
    _err(client.get(f"/api/tracks/{2**63 - 1}/audio"), 404, "unknown_track")


def test_features_and_vocoding_after_a_prediction_on_the_same_worker(settings, tmp_path):
    # One worker thread: the prediction (inference mode) leaves torchmusic.features'
    # per-thread scratch tensor behind; the feature image (was a 500) and the vocoder's
    # log-mel must still compute on that thread.
    one = dataclasses.replace(settings, workers=1, queue_size=2, work_dir=tmp_path)
    tone = write_tone(tmp_path / "t.wav", 220.0, seconds=4.0).read_bytes()
    with TestClient(create_app(one), raise_server_exceptions=False) as c:
        for _ in range(2):
            r = c.post("/api/predict", files={"file": ("t.wav", tone)})
            assert r.status_code == 200, r.text
            r = c.post(
                "/api/features",
                files={"file": ("t.wav", tone)},
                data={"n_fft": str(FEATURE.n_fft), "n_mels": "16", "arrays": "false"},
            )
            assert r.status_code == 200, r.text
            assert r.json()["shape"][0] == 16
        # The vocoder's log-mel on the same thread, after both (was a failed job).
        r = c.post("/api/predict", files={"file": ("t.wav", tone)})
        assert r.status_code == 200, r.text
        job = c.post("/api/vocode", files={"file": ("t.wav", tone)}).json()
        for _ in range(600):
            status = c.get(job["status_url"]).json()
            if status["status"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert status["status"] == "done", status


def _asgi_post(app, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """POST /api/predict straight through ASGI: (status, times the body was asked for)."""
    reads = 0
    status = 0

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"--x\r\n" + b"\0" * 1000, "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/predict", "raw_path": b"/api/predict",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
        "headers": [(b"content-type", b"multipart/form-data; boundary=x"), *headers],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return status, reads


def test_the_token_is_checked_before_the_upload_is_read(settings, tmp_path):
    app = create_app(dataclasses.replace(settings, token=TOKEN, work_dir=tmp_path))
    assert _asgi_post(app, []) == (401, 0)
    assert _asgi_post(app, [(b"authorization", b"Bearer not-the-token")]) == (403, 0)
    # With the token the request goes on to the route, which reads the body.
    _, reads = _asgi_post(app, [(b"authorization", f"Bearer {TOKEN}".encode())])
    assert reads >= 1


def test_a_cancelled_request_waiting_for_the_pool_gives_its_place_back(tmp_path):
    from torchmusic.web.jobs import JobManager

    pool = JobManager(workers=1, queue_size=1, job_ttl_s=60, folder=lambda i: tmp_path)
    release = threading.Event()

    async def scenario() -> dict:
        running = asyncio.ensure_future(pool.run(lambda: release.wait(10)))
        waiting = asyncio.ensure_future(pool.run(lambda: "never"))
        await asyncio.sleep(0.2)
        assert pool.stats()["waiting"] == 1
        waiting.cancel()  # its client went away while it was queued
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert await running is True
        assert pool.refusal() is None  # both places free again
        return pool.stats()

    try:
        stats = asyncio.run(scenario())
    finally:
        release.set()
        pool.shutdown()
    assert stats["running"] == 0 and stats["waiting"] == 0


def test_uploads_in_progress_count_against_the_pool(settings, tmp_path):
    # Capacity 2: two uploads still streaming in, the third is refused before its body
    # is read (before, every simultaneous upload was received and stored first).
    from torchmusic.web.jobs import JobManager

    app = create_app(dataclasses.replace(settings, work_dir=tmp_path))
    pool = JobManager(workers=1, queue_size=1, job_ttl_s=60, folder=lambda i: tmp_path)
    app.state.torchmusic.jobs = pool
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/predict", "raw_path": b"/api/predict",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
        "headers": [(b"content-type", b"multipart/form-data; boundary=x")],
    }  # fmt: skip

    async def scenario() -> tuple[list[int], int, list[int]]:
        go = asyncio.Event()
        reads = 0
        statuses: list[int] = []

        async def slow_receive() -> dict:
            nonlocal reads
            reads += 1
            await go.wait()  # the client is still uploading
            return {"type": "http.request", "body": b"--x--\r\n", "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        uploading = [asyncio.ensure_future(app(scope, slow_receive, send)) for _ in range(2)]
        await asyncio.sleep(0.2)
        before = reads
        third = asyncio.ensure_future(app(scope, slow_receive, send))
        await asyncio.wait({third}, timeout=5)  # answered at once, without its body
        refused, third_reads = list(statuses), reads - before
        go.set()
        await asyncio.gather(*uploading, third)
        return refused, third_reads, statuses

    try:
        refused, third_reads, statuses = asyncio.run(scenario())
    finally:
        pool.shutdown()
    assert refused == [503] and third_reads == 0
    assert len(statuses) == 3 and 503 not in statuses[1:]  # the two uploads went on
    assert pool.stats()["refused"] == 1


def test_a_tiny_file_of_huge_decoded_size_is_refused(settings, tmp_path):
    import numpy as np
    import soundfile as sf

    # 0.9 s (under the 1 s limit) at 384 kHz on 8 channels: 1.5 s of 96 kHz stereo.
    bomb = tmp_path / "bomb.flac"
    sf.write(bomb, np.zeros((int(0.9 * 384_000), 8), np.int16), 384_000, format="FLAC")
    assert bomb.stat().st_size < 100_000
    short = dataclasses.replace(settings, max_duration_s=1.0, work_dir=tmp_path)
    with TestClient(create_app(short)) as c:
        body = _err(c.post("/api/predict", files={"file": ("bomb.flac", bomb.read_bytes())}),
                    413, "too_long")  # fmt: skip
        assert "8 channels at 384000 Hz" in body["detail"] and "96 kHz stereo" in body["detail"]
        ok = write_tone(tmp_path / "t.wav", 220.0, seconds=0.9).read_bytes()  # 22 kHz mono
        assert c.post("/api/predict", files={"file": ("t.wav", ok)}).status_code == 200


def test_a_folder_another_server_is_building_is_left_alone(settings, tmp_path):
    # Server A has made its folder but not yet locked it when server B cleans: B must
    # not take it for a dead server's (before, a lockless run-* folder was removed).
    import os

    from torchmusic.web.uploads import TempSpace

    root = tmp_path / "torchmusic-serve"
    building = root / ".new-run-1-abcd"
    (building / "uploads").mkdir(parents=True)
    abandoned = root / ".new-run-2-dead"
    abandoned.mkdir()
    old = time.time() - 3600
    os.utime(abandoned, (old, old))  # a server killed while building, long ago
    space = TempSpace(root).open()
    try:
        assert building.is_dir() and not abandoned.exists()
        assert space.removed_stale == [abandoned]
        assert (space.path / "lock").is_file() and (space.path / "uploads").is_dir()
        assert sorted(p.name for p in root.iterdir()) == [building.name, space.path.name]
    finally:
        space.close()
    assert not space.path.exists()
