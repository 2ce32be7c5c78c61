// torchmusic serve: the page. Plain JS, no build step; talks to /api only.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, fileUrl: null, denoisedUrl: null, hearing: "original", ws: null };

function token() {
  return $("token").value || localStorage.getItem("torchmusic-token") || "";
}

// Every API call carries the token (when set) and turns a JSON error into an exception.
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (!r.ok) {
    let body = { error: r.status, detail: r.statusText };
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    if (r.status === 401 || r.status === 403) $("auth").open = true;
    throw new Error(body.error + ": " + body.detail);
  }
  return r;
}

// Audio behind the token cannot be an <audio src> URL: fetch it, play a blob URL.
async function blobUrl(path) {
  return URL.createObjectURL(await (await api(path)).blob());
}

function showError(err) {
  $("error").textContent = String(err.message || err);
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

function form(fields) {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

async function waitForJob(job, status) {
  for (;;) {
    const j = await (await api(job.status_url)).json();
    if (j.status === "done") {
      status.textContent = "fetching the result…";
      return j;
    }
    status.textContent = j.status + (j.status === "running" ? " " + Math.round(100 * j.progress) + " %" : "");
    if (j.status === "failed" || j.status === "cancelled") {
      throw new Error(j.error ? j.error.error + ": " + j.error.detail : "job " + j.status);
    }
    await new Promise((res) => setTimeout(res, 300));
  }
}

// -- server info ------------------------------------------------------------------------
async function loadInfo() {
  try {
    const info = await (await api("/api/models")).json();
    $("server-info").textContent =
      "torchmusic " + info.torchmusic + " · " + info.device + " · classifier " + info.defaults.classifier;
    $("similar-section").hidden = !info.catalog;
    state.hasCatalog = !!info.catalog;
  } catch (err) {
    $("server-info").textContent = "no access (token?)";
  }
}

// -- waveform and playback ------------------------------------------------------------------
function showWaveform(url) {
  if (state.ws) state.ws.destroy();
  state.ws = WaveSurfer.create({
    container: "#waveform", url, height: 72, waveColor: "#8a7fd4", progressColor: "#3b2a9a",
  });
  state.ws.on("ready", () => { $("play").disabled = false; });
  state.ws.on("play", () => { $("play-state").textContent = "playing"; $("play").textContent = "Pause"; });
  state.ws.on("pause", () => { $("play-state").textContent = "paused"; $("play").textContent = "Play"; });
  state.ws.on("timeupdate", (t) => { $("play-time").textContent = t.toFixed(1) + " s"; });
}

$("play").addEventListener("click", () => state.ws && state.ws.playPause());

// -- analysis of an upload --------------------------------------------------------------------
function renderTags(pred) {
  const list = $("tags");
  list.replaceChildren();
  for (const t of pred.labels) {
    const li = document.createElement("li");
    li.className = "tag";
    li.dataset.label = t.label;
    li.innerHTML = "<span></span><meter min='0' max='1'></meter>";
    li.firstChild.textContent = t.label + " " + (100 * t.probability).toFixed(1) + " %";
    li.lastChild.value = t.probability;
    list.append(li);
  }
  const line = $("timeline");
  line.replaceChildren();
  for (const s of pred.segments) {
    const seg = document.createElement("button");
    seg.type = "button";
    seg.className = "segment";
    seg.style.flexGrow = String(Math.max(0.01, s.end - s.start));
    seg.textContent = s.labels[0].label;
    seg.title = s.start.toFixed(1) + "–" + s.end.toFixed(1) + " s: " + s.labels[0].label;
    seg.addEventListener("click", () => state.ws && state.ws.setTime(s.start));
    line.append(seg);
  }
}

async function analyse(file) {
  clearError();
  state.file = file;
  state.denoisedUrl = null;
  $("ab").disabled = true;
  $("ab-audio").hidden = true;
  $("file-info").textContent = file.name + " · " + (file.size / 1e6).toFixed(2) + " MB";
  if (state.fileUrl) URL.revokeObjectURL(state.fileUrl);
  state.fileUrl = URL.createObjectURL(file);
  showWaveform(state.fileUrl);
  $("denoise").disabled = false;
  $("tags").replaceChildren();
  $("timeline").replaceChildren();
  const jobs = [
    api("/api/predict", { method: "POST", body: form({ file, top_k: 3, timeline: true }) })
      .then((r) => r.json()).then(renderTags),
    api("/api/features", { method: "POST", body: form({ file, n_mels: 96, arrays: false }) })
      .then((r) => r.json()).then((f) => {
        $("spectrogram").src = f.png;
        $("spectrogram").hidden = false;
        $("spectrogram-caption").textContent =
          "log-mel, " + f.shape[0] + " bands × " + f.shape[1] + " frames, " + f.duration.toFixed(1) + " s";
      }),
  ];
  if (state.hasCatalog) jobs.push(similar(file));
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) showError(failed.reason);
}

async function similar(file) {
  const body = await (await api("/api/similar", { method: "POST", body: form({ file, k: 5 }) })).json();
  const list = $("similar");
  list.replaceChildren();
  for (const n of body.neighbours) {
    const li = document.createElement("li");
    const play = document.createElement("button");
    play.type = "button";
    play.textContent = "▶";
    play.setAttribute("aria-label", "play " + n.name);
    play.addEventListener("click", async () => {
      const audio = li.querySelector("audio") || li.appendChild(document.createElement("audio"));
      audio.controls = true;
      if (!audio.src) audio.src = await blobUrl(n.audio_url);
      audio.play();
    });
    const name = document.createElement("span");
    name.textContent = " " + n.name + " (" + n.score.toFixed(2) + ")";
    li.append(play, name);
    list.append(li);
  }
}

$("file").addEventListener("change", (e) => e.target.files[0] && analyse(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) analyse(e.dataTransfer.files[0]);
});

// -- generation ---------------------------------------------------------------------------------
$("generate-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError();
  const conditions = { tune_type: $("tune-type").value };
  if ($("tune-key").value) conditions.key = $("tune-key").value;
  const request = { conditions, bars: Number($("bars").value), seed: Number($("seed").value) };
  $("generate").disabled = true;
  try {
    const job = await (await api("/api/generate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    })).json();
    const done = await waitForJob(job, $("gen-status"));
    $("gen-midi").href = await blobUrl(done.files["tune.mid"]);
    $("gen-midi").hidden = false;
    if (done.files["tune.wav"]) {
      $("gen-audio").src = await blobUrl(done.files["tune.wav"]);
      $("gen-audio").hidden = false;
    }
    // Last, once the files are in the page: "done" means ready to play.
    $("gen-status").textContent =
      "done: " + done.result.notes + " notes, " + done.result.seconds + " s (" + conditions.tune_type + ", seed " + request.seed + ")";
  } catch (err) {
    showError(err);
  } finally {
    $("generate").disabled = false;
  }
});

// -- denoising with A/B --------------------------------------------------------------------------
$("denoise").addEventListener("click", async () => {
  if (!state.file) return;
  clearError();
  $("denoise").disabled = true;
  try {
    const job = await (await api("/api/denoise", {
      method: "POST", body: form({ file: state.file, method: $("denoise-method").value }),
    })).json();
    const done = await waitForJob(job, $("denoise-status"));
    state.denoisedUrl = await blobUrl(done.files["denoised.wav"]);
    state.hearing = "denoised";
    switchAB();
    $("ab").disabled = false;
    $("ab-audio").hidden = false;
    $("denoise-status").textContent = "done (" + done.result.method + ")";
  } catch (err) {
    showError(err);
  } finally {
    $("denoise").disabled = false;
  }
});

// A/B keeps the playing position, so the two versions compare at the same moment.
function switchAB() {
  const audio = $("ab-audio");
  const t = audio.currentTime || 0;
  const playing = !audio.paused;
  audio.src = state.hearing === "original" ? state.fileUrl : state.denoisedUrl;
  audio.currentTime = t;
  if (playing) audio.play();
  $("ab").textContent = "Hear: " + state.hearing + " (switch)";
}
$("ab").addEventListener("click", () => {
  state.hearing = state.hearing === "original" ? "denoised" : "original";
  switchAB();
});

$("token").value = localStorage.getItem("torchmusic-token") || "";
$("token").addEventListener("change", () => {
  localStorage.setItem("torchmusic-token", $("token").value);
  loadInfo();
});
loadInfo();
