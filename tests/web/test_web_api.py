"""Every endpoint of ``torchmusic serve`` through FastAPI's test client, on real audio."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
import soundfile as sf

from conftest import LABELS, require_serve_extra, write_tone

require_serve_extra()


def _wait(client, job: dict, *, timeout: float = 60.0, headers=None) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(job["status_url"], headers=headers).json()
        if status["status"] in ("done", "failed", "cancelled"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def _upload(path, name=None):
    return {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}


def test_health_and_models(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["pool"]["workers"] == 2
    models = client.get("/api/models").json()
    names = {m["name"]: m for m in models["models"]}
    assert names["genre"]["source"] == "file" and names["drums"]["source"] == "shipped"
    assert models["defaults"]["classifier"] == "genre"
    assert models["catalog"]["tracks"] == 6 and models["recommender"] == "itemknn"
    assert models["device"] == "cpu" and models["torch"]


def test_predict_real_recording_with_timeline(client, trumpet):
    r = client.post("/api/predict", files=_upload(trumpet), data={"top_k": "2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == trumpet.name and body["path"] is None and body["model"] == "genre"
    assert body["duration"] == pytest.approx(5.33, abs=0.01)
    assert len(body["labels"]) == 2 and {x["label"] for x in body["labels"]} <= set(LABELS)
    probs = [x["probability"] for x in body["labels"]]
    assert probs == sorted(probs, reverse=True)
    # 5.3 s in 3 s windows: two segments, the last clipped to the track's end.
    assert [(s["start"], round(s["end"], 2)) for s in body["segments"]] == [(0.0, 3.0), (3.0, 5.33)]
    loaded = {m["name"]: m["loaded_as"] for m in client.get("/api/models").json()["models"]}
    assert loaded["genre"] == ["classifier"]


def test_predict_shipped_model_by_name(client, trumpet):
    r = client.post(
        "/api/predict", files=_upload(trumpet), data={"model": "drums", "timeline": "false"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "drums" and r.json()["segments"] == []


def test_features_json_and_png(client, trumpet):
    r = client.post("/api/features", files=_upload(trumpet), data={"n_mels": "64"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["config"]["kind"] == "logmel" and body["config"]["n_mels"] == 64
    frames = 1 + int(5.33 * 22050) // 512
    assert body["shape"] == [64, frames] and len(body["data"]) == 64
    png = base64.b64decode(body["png"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    lean = client.post("/api/features", files=_upload(trumpet), data={"arrays": "false"}).json()
    assert "data" not in lean and lean["shape"] == [128, frames]
    raw = client.post(
        "/api/features", files=_upload(trumpet), data={"kind": "chroma", "format": "png"}
    )
    assert raw.headers["content-type"] == "image/png" and raw.content[:4] == b"\x89PNG"
    width, height = int.from_bytes(raw.content[16:20], "big"), int.from_bytes(raw.content[20:24], "big")
    assert (width, height) == (frames, 12 * 8)


def test_similar_by_track_id_and_by_upload(client, tmp_path):
    tracks = client.get("/api/tracks").json()["tracks"]
    assert len(tracks) == 6 and all(t["audio_url"].endswith("/audio") for t in tracks)
    assert all("path" not in t for t in tracks)
    first = tracks[0]["id"]
    r = client.get("/api/similar", params={"track": first, "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"]["id"] == first and len(body["neighbours"]) == 3
    assert first not in [n["id"] for n in body["neighbours"]]
    audio = client.get(body["neighbours"][0]["audio_url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/x-wav"
    assert audio.content[:4] == b"RIFF"
    # An upload: a new tone next to the 110 Hz one.
    query = write_tone(tmp_path / "q.wav", 112.0, seed=9)
    r = client.post("/api/similar", files=_upload(query), data={"k": "2"})
    assert r.status_code == 200, r.text
    assert r.json()["query"]["name"] == "q.wav" and len(r.json()["neighbours"]) == 2


def test_recommend_for_a_user_and_for_liked_items(client):
    r = client.post("/api/recommend", json={"user": "u1", "k": 3})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 3 and all(i["reason"] and i["name"].startswith("Artist") for i in items)
    r = client.post("/api/recommend", json={"like": ["Artist 1", "i2"], "k": 4})
    assert r.status_code == 200, r.text
    assert {i["item"] for i in r.json()["items"]}.isdisjoint({"i1", "i2"})


def test_generate_job_lifecycle(client):
    r = client.post(
        "/api/generate", json={"conditions": {"tune_type": "jig"}, "bars": 2, "seed": 3}
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running") and r.headers["location"] == job["status_url"]
    done = _wait(client, job)
    assert done["status"] == "done", done
    assert done["progress"] == 1.0 and done["result"]["notes"] > 0
    midi = client.get(done["files"]["tune.mid"])
    assert midi.status_code == 200 and midi.content[:4] == b"MThd"
    if done["result"]["wav"]:
        wav = client.get(done["files"]["tune.wav"])
        assert wav.content[:4] == b"RIFF"
    # Same seed, same tune.
    again = _wait(client, client.post("/api/generate", json={
        "conditions": {"tune_type": "jig"}, "bars": 2, "seed": 3}).json())  # fmt: skip
    assert client.get(again["files"]["tune.mid"]).content == midi.content


def test_denoise_vocode_synthesize_jobs(client, tmp_path):
    rng = np.random.default_rng(0)
    noisy = tmp_path / "noisy.wav"
    t = np.arange(22050) / 22050
    sf.write(noisy, (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size)), 22050)
    for route, data, name in (
        ("/api/denoise", {"method": "wiener", "strength": "0.8"}, "denoised.wav"),
        ("/api/vocode", {}, "vocoded.wav"),
        ("/api/vocode", {"refine": "4"}, "vocoded.wav"),
    ):
        r = client.post(route, files=_upload(noisy), data=data)
        assert r.status_code == 202, r.text
        done = _wait(client, r.json())
        assert done["status"] == "done", done
        y, sr = sf.read(io.BytesIO(client.get(done["files"][name]).content))
        assert sr == 22050 and abs(len(y) - 22050) < 512
        if route == "/api/vocode":
            assert done["result"]["refine"] == int(data.get("refine", 0))
    bad = client.post("/api/vocode", files=_upload(noisy), data={"refine": "-1"})
    assert bad.status_code == 422
    r = client.post("/api/synthesize", json={"label": "kick", "n": 2, "seed": 1})
    assert r.status_code == 202, r.text
    done = _wait(client, r.json())
    assert done["result"]["labels"] == ["kick", "kick"]
    assert set(done["files"]) == {"hit-0.wav", "hit-1.wav"}


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and "torchmusic" in page.text
    assert 'src="/static/vendor/wavesurfer-' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/predict"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui-" in docs.text
    assert "cdn" not in docs.text.lower()
    for url in ("/static/vendor/swagger-ui-5.35.0-bundle.js", "/static/vendor/swagger-ui-5.35.0.css"):
        assert client.get(url).status_code == 200
