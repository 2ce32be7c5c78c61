"""Every error class of the API is JSON ``{error, detail}`` with its 4xx/5xx code, never a traceback."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest

from conftest import TOKEN, require_serve_extra, write_tone

require_serve_extra()

from fastapi.testclient import TestClient  # noqa: E402

from torchmusic.web import Settings, create_app  # noqa: E402
from torchmusic.web.errors import ApiError  # noqa: E402
from torchmusic.web.jobs import JobManager  # noqa: E402


def _err(r, status: int, error: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"} and body["error"] == error, body
    assert "Traceback" not in body["detail"]
    return body


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    return write_tone(tmp_path_factory.mktemp("tone") / "tone.wav", 220.0)


def test_oversize_upload_is_413_declared_or_streamed(client, tmp_path):
    big = b"RIFF" + b"\0" * 2_100_000  # over the tests' 2 MB limit
    body = _err(client.post("/api/predict", files={"file": ("big.wav", big)}), 413, "too_large")
    assert "2 MB" in body["detail"]

    boundary = "tmboundary"

    def chunks():  # no Content-Length: the limit must hold while the body streams
        yield (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            'filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF'
        ).encode()
        for _ in range(30):
            yield b"\0" * 100_000
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/api/predict",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    _err(r, 413, "too_large")


def test_audio_longer_than_the_limit_is_413(client, tmp_path):
    long = write_tone(tmp_path / "long.wav", 220.0, seconds=61.0)  # limit 60 s; 2.7 MB > 2 MB
    r = client.post("/api/predict", files={"file": ("long.wav", long.read_bytes())})
    assert r.status_code == 413


def test_duration_limit(settings, tmp_path, tone):
    import dataclasses

    short = dataclasses.replace(settings, max_duration_s=1.0, work_dir=tmp_path)
    with TestClient(create_app(short)) as c:
        body = _err(c.post("/api/predict", files={"file": ("t.wav", tone.read_bytes())}),
                    413, "too_long")  # fmt: skip
        assert "1.5 s" in body["detail"] and "limit of 1 s" in body["detail"]


def test_non_audio_is_415(client):
    for name, data in (
        ("notes.wav", b"%PDF-1.7 this is a PDF"),
        ("page.mp3", b"<html><body>hello</body></html>"),
        ("x.ogg", bytes(range(256))),
    ):
        body = _err(client.post("/api/predict", files={"file": (name, data)}), 415,
                    "unsupported_media_type")  # fmt: skip
        assert name in body["detail"]


def test_corrupt_audio_is_422_without_server_paths(client):
    corrupt = b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunkjunk"
    body = _err(client.post("/api/predict", files={"file": ("broken.wav", corrupt)}), 422,
                "bad_audio")  # fmt: skip
    assert "broken.wav" in body["detail"] and "upload-" not in body["detail"]
    assert "/tmp" not in body["detail"] and "torchmusic-serve" not in body["detail"]
    _err(client.post("/api/predict", files={"file": ("empty.wav", b"")}), 422, "bad_audio")


def test_unknown_and_wrong_models(client, tone):
    files = {"file": ("t.wav", tone.read_bytes())}
    body = _err(client.post("/api/predict", files=files, data={"model": "nope"}), 404,
                "unknown_model")  # fmt: skip
    assert "'nope'" in body["detail"] and "genre" in body["detail"]
    # A path is never accepted as a model name (clients cannot make the server open files).
    _err(client.post("/api/predict", files=files, data={"model": "/etc/passwd"}), 404,
         "unknown_model")  # fmt: skip
    _err(client.post("/api/generate", json={"model": "nope"}), 404, "unknown_model")
    body = _err(client.post("/api/predict", files=files, data={"model": "folk"}), 422,
                "wrong_model")  # fmt: skip
    assert "'folk'" in body["detail"]


def test_unknown_ids(client):
    body = _err(client.get("/api/similar", params={"track": 999}), 404, "unknown_track")
    assert "999" in body["detail"]
    _err(client.get("/api/tracks/999/audio"), 404, "unknown_track")
    _err(client.get("/api/jobs/nope"), 404, "unknown_job")
    _err(client.post("/api/recommend", json={"user": "ghost"}), 404, "unknown_user")
    _err(client.post("/api/recommend", json={"like": ["No Such Band"]}), 404, "unknown_item")
    _err(client.get("/api/nowhere"), 404, "not_found")
    _err(client.delete("/api/health"), 405, "method_not_allowed")


def test_bad_parameters_are_422_naming_the_value(client, tone):
    files = {"file": ("t.wav", tone.read_bytes())}
    body = _err(client.post("/api/predict", files=files, data={"top_k": "0"}), 422,
                "bad_parameter")  # fmt: skip
    assert "top_k" in body["detail"] and "'0'" in body["detail"]
    _err(client.post("/api/predict", files=files, data={"top_k": "lots"}), 422, "bad_parameter")
    _err(client.post("/api/predict", data={"top_k": "1"}), 422, "bad_parameter")  # no file
    _err(client.post("/api/features", files=files, data={"kind": "mp4"}), 422, "bad_parameter")
    _err(client.get("/api/similar", params={"track": 1, "k": 0}), 422, "bad_parameter")
    _err(client.post("/api/generate", json={"bars": 0}), 422, "bad_parameter")
    _err(client.post("/api/generate", json={"bars": "x"}), 422, "bad_parameter")
    _err(client.post("/api/recommend", json={}), 422, "bad_parameter")
    body = _err(client.post("/api/denoise", files=files, data={"method": "magic"}), 422,
                "bad_parameter")  # fmt: skip
    assert "magic" in body["detail"]
    _err(client.post("/api/synthesize", json={"n": 100}), 422, "bad_parameter")


def test_bad_conditions_fail_the_job_with_json(client):
    r = client.post("/api/generate", json={"conditions": {"tune_type": "polka-dots"}, "bars": 1})
    assert r.status_code == 202
    url = r.json()["status_url"]
    for _ in range(600):
        job = client.get(url).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert job["status"] == "failed" and job["error"]["error"] == "bad_parameter"
    assert "polka-dots" in job["error"]["detail"] and "files" not in job
    _err(client.get(url + "/files/tune.mid"), 404, "unknown_file")


def test_token_required_except_for_health(settings, tmp_path, tone):
    import dataclasses

    guarded = dataclasses.replace(settings, token=TOKEN, work_dir=tmp_path)
    with TestClient(create_app(guarded)) as c:
        assert c.get("/api/health").status_code == 200
        r = c.get("/api/models")
        _err(r, 401, "missing_token")
        assert r.headers["www-authenticate"] == "Bearer"
        _err(c.get("/api/models", headers={"Authorization": "Bearer wrong-token"}), 403,
             "wrong_token")  # fmt: skip
        _err(c.get("/api/models", headers={"Authorization": f"Basic {TOKEN}"}), 401,
             "missing_token")  # fmt: skip
        r = c.post("/api/predict", files={"file": ("t.wav", tone.read_bytes())})
        _err(r, 401, "missing_token")
        ok = c.get("/api/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert c.get("/").status_code == 200  # the page itself holds no data


def test_internal_errors_are_500_json_without_traceback(settings, tmp_path, caplog):
    import dataclasses

    app = create_app(dataclasses.replace(settings, work_dir=tmp_path))

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("secret internals /home/x")

    with TestClient(app, raise_server_exceptions=False) as c:
        body = _err(c.get("/api/boom"), 500, "internal")
        assert "secret" not in body["detail"] and "RuntimeError" in body["detail"]
    assert "secret internals" in caplog.text  # logged for the operator


def test_full_pool_answers_503_with_retry_after(settings, tmp_path, tone):
    import dataclasses

    tight = dataclasses.replace(settings, workers=1, queue_size=0, work_dir=tmp_path)
    app = create_app(tight)
    release = threading.Event()
    with TestClient(app) as c:
        pool = app.state.torchmusic.jobs
        pool.start("block", lambda job: release.wait(10) and {})
        try:
            r = c.post("/api/predict", files={"file": ("t.wav", tone.read_bytes())})
            body = _err(r, 503, "busy")
            assert int(r.headers["retry-after"]) >= 1 and "1 workers" in body["detail"]
            _err(c.post("/api/generate", json={}), 503, "busy")
            assert c.get("/api/health").json()["pool"]["refused"] == 2
        finally:
            release.set()
        for _ in range(100):
            if c.get("/api/health").json()["pool"]["running"] == 0:
                break
            time.sleep(0.05)
        assert c.post("/api/predict", files={"file": ("t.wav", tone.read_bytes())}).status_code == 200


def test_job_expiry_and_graceful_shutdown(tmp_path):
    folders = tmp_path / "jobs"
    pool = JobManager(
        workers=1, queue_size=2, job_ttl_s=0.5, folder=lambda i: (folders / i).mkdir(parents=True)
        or folders / i,
    )
    started = threading.Event()

    def slow(job):
        started.set()
        time.sleep(0.5)
        (job.folder / "out.txt").write_text("x")
        return {"ok": True}

    first = pool.start("slow", slow)
    queued = pool.start("slow", slow)
    started.wait(5)
    pool.shutdown()  # waits for the running job, cancels the queued one
    assert first.status == "done" and first.result == {"ok": True}
    assert queued.status == "cancelled"
    with pytest.raises(ApiError) as info:
        pool.start("late", slow)
    assert info.value.status == 503
    assert pool.expire(now=time.time() + 1.0) == [first.id]
    assert not (folders / first.id).exists()


def test_dead_servers_temp_folders_are_removed_at_start(settings, tmp_path):
    import dataclasses

    root = tmp_path / "torchmusic-serve"
    dead = root / "run-999999-dead"
    (dead / "uploads").mkdir(parents=True)
    (dead / "uploads" / "upload-abc-song.wav").write_bytes(b"RIFF")
    (dead / "lock").write_text("")
    alive = root / "run-1-alive"
    alive.mkdir()
    fd = os.open(alive / "lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another live server holds this one
    try:
        app = create_app(dataclasses.replace(settings, work_dir=tmp_path))
        with TestClient(app):
            own = app.state.torchmusic.temp.path
            assert own.is_dir() and not dead.exists() and alive.is_dir()
        assert not own.exists()  # removed at exit
    finally:
        os.close(fd)


def test_no_catalog_and_no_recommender_are_404(tmp_path, tone):
    with TestClient(create_app(Settings(work_dir=tmp_path))) as c:
        _err(c.get("/api/similar", params={"track": 1}), 404, "no_catalog")
        _err(c.post("/api/similar", files={"file": ("t.wav", tone.read_bytes())}), 404,
             "no_catalog")  # fmt: skip
        _err(c.get("/api/tracks"), 404, "no_catalog")
        _err(c.post("/api/recommend", json={"user": "u1"}), 404, "no_recommender")
        assert c.get("/api/models").json()["catalog"] is None


def test_settings_refuse_bad_values():
    from torchmusic.errors import ParameterError
    from torchmusic.web.settings import parse_model_option

    for bad, message in (
        ({"port": 70000}, "port=70000"),
        ({"workers": 0}, "workers=0"),
        ({"max_upload_mb": -1}, "max_upload_mb=-1"),
        ({"queue_size": -1}, "queue_size=-1"),
        ({"token": "short"}, "token must be at least 8"),
        ({"models": {"../x": "f"}}, "model name '../x'"),
    ):
        with pytest.raises(ParameterError, match=message):
            Settings(**bad)
    assert parse_model_option("genre=runs/a/model.safetensors") == (
        "genre", "runs/a/model.safetensors"
    )
    assert parse_model_option("runs/a/tags.safetensors") == ("tags", "runs/a/tags.safetensors")
    with pytest.raises(ParameterError, match="NAME=FILE"):
        parse_model_option("bad name=x")
