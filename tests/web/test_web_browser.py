"""The page in a real headless browser: Debian's chromium driven by Python playwright.

A server runs on 127.0.0.1 (a free port, in a thread of this test) with a tiny
classifier, a catalog and a recommender; the browser uploads a real recording, waits
for the tags, the timeline and the spectrogram, plays the upload and a similar track,
generates a tune and plays it, denoises with A/B, checks the page at phone width and
that nothing was fetched from anywhere but the server. Screenshots are written to the
test's tmp_path (``serve-page.png``, ``serve-phone.png``).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from conftest import require_serve_extra

require_serve_extra()

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(settings, tmp_path_factory):
    import dataclasses

    import uvicorn

    from torchmusic.web import create_app

    port = _free_port()
    app = create_app(dataclasses.replace(settings, work_dir=tmp_path_factory.mktemp("srv")))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; make system-deps)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"]
        )
        yield b
        b.close()


def _playing(page, selector: str) -> bool:
    """Wait until the audio element under ``selector`` is playing and its clock moves."""
    page.wait_for_function(
        f"() => {{ const a = document.querySelector({selector!r});"
        " return a && !a.paused && a.currentTime > 0.05; }",
        timeout=15000,
    )
    return True


def test_the_page_end_to_end(browser, server_url, trumpet, tmp_path):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))

    page.goto(server_url + "/")
    page.wait_for_function("document.querySelector('#server-info').textContent.includes('cpu')")
    assert "classifier genre" in page.inner_text("#server-info")
    assert page.is_visible("#similar-section")  # the server has a catalog

    # Upload a real recording: tags (top 3 of the 4 labels), timeline, spectrogram.
    page.set_input_files("#file", str(trumpet))
    page.wait_for_selector("#tags li:nth-child(3)", timeout=30000)
    tags = page.locator("#tags li").all_inner_texts()
    labels = [t.split()[0] for t in tags]
    assert len(tags) == 3 and set(labels) <= {"blues", "country", "jazz", "rock"}, tags
    assert all(t.strip().endswith("%") for t in tags), tags
    assert page.locator("#timeline .segment").count() == 2  # 5.3 s in 3 s windows
    page.wait_for_function(
        "() => { const i = document.querySelector('#spectrogram');"
        " return !i.hidden && i.complete && i.naturalWidth > 200; }",
        timeout=30000,
    )
    caption = page.inner_text("#spectrogram-caption")
    assert caption.startswith("log-mel, 96 bands") and "5.3 s" in caption
    assert page.inner_text("#file-info").startswith(trumpet.name)

    # Similar tracks: the catalog's 6 tones minus none (the query is not in it): top 5.
    page.wait_for_selector("#similar li:nth-child(5)", timeout=30000)
    assert page.locator("#similar li").count() == 5
    assert all(".wav" in t for t in page.locator("#similar li").all_inner_texts())
    page.click("#similar li:first-child button")
    assert _playing(page, "#similar li:first-child audio")

    # Play the upload through wavesurfer: the state and the clock on the page change.
    page.wait_for_selector("#play:not([disabled])", timeout=30000)
    page.click("#play")
    page.wait_for_function("document.querySelector('#play-state').textContent === 'playing'")
    page.wait_for_function("parseFloat(document.querySelector('#play-time').textContent) > 0.2")
    assert page.inner_text("#play") == "Pause"
    page.click("#play")
    page.wait_for_function("document.querySelector('#play-state').textContent === 'paused'")

    # Generate a tune (a job polled by the page), listen to it.
    page.select_option("#tune-type", "reel")
    page.fill("#bars", "2")
    page.fill("#seed", "5")
    page.click("#generate")
    page.wait_for_function(
        "document.querySelector('#gen-status').textContent.startsWith('done')", timeout=60000
    )
    status = page.inner_text("#gen-status")
    assert "reel, seed 5" in status and " notes" in status
    assert page.get_attribute("#gen-midi", "href").startswith("blob:")
    if shutil.which("fluidsynth"):
        assert page.is_visible("#gen-audio")
        page.evaluate("document.querySelector('#gen-audio').play()")
        assert _playing(page, "#gen-audio")

    # Denoise and A/B.
    page.select_option("#denoise-method", "wiener")
    page.click("#denoise")
    page.wait_for_function(
        "document.querySelector('#denoise-status').textContent.startsWith('done')", timeout=60000
    )
    assert page.inner_text("#ab").startswith("Hear: denoised")
    page.click("#ab")
    assert page.inner_text("#ab").startswith("Hear: original")

    assert page.is_hidden("#error"), page.inner_text("#error")
    page.screenshot(path=str(tmp_path / "serve-page.png"), full_page=True)

    # Phone width: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at phone width"
    page.screenshot(path=str(tmp_path / "serve-phone.png"), full_page=True)

    # Offline: every request went to this server (or stayed in the page).
    outside = [u for u in requests if not u.startswith((server_url, "blob:", "data:"))]
    assert not outside, outside
    assert not problems, problems
    assert (tmp_path / "serve-page.png").stat().st_size > 10_000
    print(f"screenshots: {tmp_path / 'serve-page.png'} {tmp_path / 'serve-phone.png'}")
    context.close()


def test_dropping_a_file_on_the_page(browser, server_url, trumpet):
    import base64

    page = browser.new_page()
    page.goto(server_url + "/")
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "dropped.ogg", { type: "audio/ogg" }));
            const zone = document.querySelector("#drop");
            zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
        }""",
        base64.b64encode(trumpet.read_bytes()).decode(),
    )
    page.wait_for_selector("#tags li:nth-child(3)", timeout=30000)
    assert page.inner_text("#file-info").startswith("dropped.ogg")
    assert "over" not in (page.get_attribute("#drop", "class") or "")
    page.close()


def test_the_page_shows_api_errors(browser, server_url, tmp_path):
    page = browser.new_page()
    page.goto(server_url + "/")
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all")
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#error:not([hidden])", timeout=30000)
    assert "unsupported_media_type" in page.inner_text("#error")
    page.close()



def test_the_api_docs_render_offline(browser, server_url):
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server_url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30000)
    assert page.inner_text(".swagger-ui .info .title").startswith("torchmusic")
    page.wait_for_selector("[data-path='/api/predict']", timeout=30000)
    outside = [u for u in requests if not u.startswith((server_url, "blob:", "data:"))]
    assert not outside, outside
    page.close()
