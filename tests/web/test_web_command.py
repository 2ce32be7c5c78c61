"""``torchmusic serve`` as users run it: a subprocess, killed with SIGKILL, started again.

A killed server cannot clean up; the next one must remove what it left (the issue's
acceptance: "a killed server leaves no temporary files behind on the next start").
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TOKEN, require_serve_extra

require_serve_extra()
import httpx  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path: Path, port: int, log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "torchmusic", "serve", "--port", str(port), "--workers", "1"],
        env={**os.environ, "TMPDIR": str(tmp_path), **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/api/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail(f"the server did not start: {log.read_text()}")


def test_killed_server_leaves_nothing_after_the_next_start(tmp_path):
    root = tmp_path / "torchmusic-serve"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "first.log"
    first = _start(tmp_path, port, log)
    try:
        _wait_healthy(first, url, log)
        assert f"http://127.0.0.1:{port}/" in log.read_text()
        assert httpx.get(url + "/").status_code == 200
        assert httpx.get(url + "/api/models").status_code == 200  # no token: open
        (left,) = root.glob("run-*")
        (left / "uploads" / "upload-0-half-written.wav").write_bytes(b"RIFF")
    finally:
        first.kill()  # SIGKILL: no lifespan, no cleanup
        first.wait(30)
    assert left.is_dir()

    log = tmp_path / "second.log"
    second = _start(tmp_path, port, log, TORCHMUSIC_SERVE_TOKEN=TOKEN)
    try:
        _wait_healthy(second, url, log)
        assert not left.exists()  # the dead server's folder went at start
        (own,) = root.glob("run-*")
        # The token came from the environment.
        assert httpx.get(url + "/api/models").status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(url + "/api/models", headers=auth).status_code == 200
    finally:
        second.send_signal(signal.SIGTERM)  # graceful: finishes work, removes its folder
        second.wait(60)
    assert not own.exists() and not list(root.glob("run-*"))
