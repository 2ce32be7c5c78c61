#!/usr/bin/env bash
# One GPU check: `pytest -m gpu` and the GPU rows of every benchmark, within 8 minutes
# in all, then ONE JSON (gpu_suite.json) and ONE markdown table (gpu_suite.md).
#
#   benchmarks/gpu_suite.sh [--out DIR] [--cpu-dry-run]      (or: make gpu-check)
#
# Steps (each under its own timeout, all under one overall budget; elapsed time is
# printed per step):
#   pytest -m gpu                 the tests marked gpu
#   features_logmel.py            log-mel vs librosa at batch 1/16/64, CUDA column
#   train_throughput.py           training clips/s on the GPU with NVML utilisation
#                                 (synthetic 30 s tracks: no FluidSynth/music21 needed)
#   embed_throughput.py           embedding tracks/s on the GPU (shared recordings)
#   generation_speed.py           tokens/s of the folk-sized Transformer on the GPU
#
# It installs nothing. Python: $PYTHON, else .venv/bin/python (after `make install`),
# else python3; src/ goes first on PYTHONPATH so the working tree is what runs.
# Wheels carried to a machine without a package index can be put on the path with
# GPU_SUITE_WHEELS=DIR (installed with pip --no-index into $OUT/site, not the system).
# `gpu_suite.sh --fetch-wheels DIR` (run where pip reaches an index) downloads those a
# bare PyTorch image lacks (librosa, soundfile, soxr and their needs; CPython
# $GPU_SUITE_PYVER, default 3.12, x86-64) and exits.
# Data: $TORCHMUSIC_SHARED_DATA, else ./shared/data, else ../shared/data.
#
# Environment: GPU_SUITE_ALLOW_CPU=1 (= --cpu-dry-run: tiny sizes on the CPU, to test
# the script on a machine without a GPU), GPU_SUITE_BUDGET (seconds for all steps,
# default 460: a lent GPU has 15 minutes of device time per task, machine start
# included, so the suite must end well inside 8 minutes).
set -u -o pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="bench_out/gpu_suite"
DRY="${GPU_SUITE_ALLOW_CPU:-0}"
FETCH=""
WHEELS="librosa==0.11.* soundfile soxr audioread decorator pooch platformdirs cffi pycparser"
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="$2"; shift 2 ;;
        --out=*) OUT="${1#--out=}"; shift ;;
        --cpu-dry-run) DRY=1; shift ;;
        --fetch-wheels) FETCH="$2"; shift 2 ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "gpu_suite: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -n "$FETCH" ]; then
    py="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
    # shellcheck disable=SC2086
    exec "$py" -m pip download --no-deps --only-binary=:all: \
        --python-version "${GPU_SUITE_PYVER:-3.12}" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
        -d "$FETCH" $WHEELS
fi
mkdir -p "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
BUDGET="${GPU_SUITE_BUDGET:-460}"
START=$(date +%s)

if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3
fi
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "${GPU_SUITE_WHEELS:-}" ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$OUT/site" "$GPU_SUITE_WHEELS"/*.whl \
        && export PYTHONPATH="$PYTHONPATH:$OUT/site"
fi
if [ -z "${TORCHMUSIC_SHARED_DATA:-}" ]; then
    for d in "$REPO/shared/data" "$REPO/../shared/data"; do
        if [ -d "$d" ]; then TORCHMUSIC_SHARED_DATA="$(cd "$d" && pwd)"; break; fi
    done
fi
export TORCHMUSIC_SHARED_DATA="${TORCHMUSIC_SHARED_DATA:-$REPO/../shared/data}"
export TORCHMUSIC_CACHE_DIR="$OUT/cache"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg

# Machine facts and which of the needed modules are importable (no step is skipped
# silently: a missing module shows in the report next to the step that failed).
"$PY" - "$OUT/machine.json" "$DRY" "$PY" <<'EOF'
import importlib.util, json, os, platform, subprocess, sys
out, dry, py = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
facts = {"python": platform.python_version(), "python_path": py, "cpu_count": os.cpu_count(),
         "platform": platform.platform(), "dry_run": dry,
         "shared_data": os.environ.get("TORCHMUSIC_SHARED_DATA")}
try:
    facts["cpu"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                        if l.startswith("model name"))
except Exception:
    facts["cpu"] = platform.processor()
try:
    import torch
    facts.update(torch=torch.__version__, torch_cuda=torch.version.cuda,
                 cudnn=torch.backends.cudnn.version(), cuda_available=torch.cuda.is_available())
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        facts.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                     gpu_count=torch.cuda.device_count())
except Exception as exc:
    facts.update(torch=None, cuda_available=False, torch_error=repr(exc))
try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                          "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    if smi.returncode == 0 and smi.stdout.strip():
        name, driver, mem = [s.strip() for s in smi.stdout.splitlines()[0].split(",")]
        facts.update(gpu=facts.get("gpu", name), driver=driver, gpu_memory=mem)
except (OSError, subprocess.SubprocessError, ValueError):
    pass
needed = ["torch", "numpy", "soundfile", "soxr", "safetensors", "tqdm", "lightning", "yaml",
          "sklearn", "scipy", "librosa", "pytest", "tensorboard", "matplotlib"]
facts["missing_modules"] = [m for m in needed if importlib.util.find_spec(m) is None]
import torchmusic
facts["torchmusic"] = torchmusic.__file__
json.dump(facts, open(out, "w"), indent=2)
for k, v in facts.items():
    print(f"  {k}: {v}")
EOF
rc=$?
if [ $rc -ne 0 ]; then echo "gpu_suite: $PY cannot import torch/torchmusic (see above)" >&2; exit 1; fi
CUDA=$("$PY" -c 'import json,sys; print(int(bool(json.load(open(sys.argv[1])).get("cuda_available"))))' "$OUT/machine.json")
if [ "$CUDA" != 1 ] && [ "$DRY" != 1 ]; then
    echo "gpu_suite: no CUDA device; set GPU_SUITE_ALLOW_CPU=1 (or --cpu-dry-run) for a CPU dry run" >&2
    exit 2
fi

if [ "$DRY" = 1 ]; then  # tiny sizes on the CPU: every step runs, the numbers mean nothing
    DEV=cpu
    LOGMEL_ARGS=(--batches 1 2 --repeats 1)
    TRAIN_ARGS=(--devices cpu --synthetic-corpus 3 --epochs 1 --models simple_cnn --bare-steps 2)
    EMBED_ARGS=(--devices cpu --tracks 2 --workers 1)
    GEN_ARGS=(--device cpu --lengths 16 32 --repeats 1)
else
    DEV=cuda
    LOGMEL_ARGS=(--batches 1 16 64 --repeats 3)
    TRAIN_ARGS=(--devices cuda --synthetic-corpus 16 --epochs 2 --bare-steps 10)
    EMBED_ARGS=(--devices cuda --tracks 15 --workers 4 --threads 4)
    GEN_ARGS=(--device cuda --lengths 256 1024 --repeats 1)
fi
if [ -d "$TORCHMUSIC_SHARED_DATA/recordings" ]; then
    EMBED_ARGS+=(--audio "$TORCHMUSIC_SHARED_DATA/recordings")
fi

: > "$OUT/steps.tsv"
step() {  # step NAME TIMEOUT_S COMMAND...
    local name="$1" limit="$2"; shift 2
    local now left t0 t1 rc
    now=$(date +%s)
    left=$(( BUDGET - (now - START) - 15 ))  # keep 15 s for the report
    if [ "$left" -lt "$limit" ]; then limit=$left; fi
    if [ "$limit" -lt 5 ]; then
        printf '%s\tskipped\t0\t%s\n' "$name" "over budget" >> "$OUT/steps.tsv"
        echo "=== $name: skipped (suite budget of $BUDGET s spent)"
        return
    fi
    echo "=== $name (timeout ${limit} s): $*"
    t0=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" > "$OUT/logs/$name.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
    local status=ok
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=timeout; elif [ $rc -ne 0 ]; then status=failed; fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "rc=$rc" >> "$OUT/steps.tsv"
    tail -n 15 "$OUT/logs/$name.log" | sed 's/^/    /'
    echo "=== $name: $status in ${secs} s (suite elapsed $(( $(date +%s) - START )) s)"
}

# Only the test files that mark tests gpu are collected: faster, and a test module
# whose optional dependency is missing on the GPU machine cannot stop the run.
mapfile -t GPU_TESTS < <(grep -rlE --include='*.py' 'mark\.gpu' tests | sort)
[ ${#GPU_TESTS[@]} -gt 0 ] || GPU_TESTS=(tests)
PYTEST_X=()  # ~160 parametrised parity tests: 4 processes share the GPU
if [ "$DRY" != 1 ] && "$PY" -c 'import xdist' 2>/dev/null; then PYTEST_X=(-n 4); fi
step pytest_gpu 90 "$PY" -m pytest -m gpu -q -p no:cacheprovider --continue-on-collection-errors \
    ${PYTEST_X[@]+"${PYTEST_X[@]}"} --junitxml="$OUT/pytest_gpu.xml" "${GPU_TESTS[@]}"
step features_logmel 110 "$PY" benchmarks/features_logmel.py --out "$OUT/features_logmel.json" \
    "${LOGMEL_ARGS[@]}"
step train_throughput 130 "$PY" benchmarks/train_throughput.py --out "$OUT" "${TRAIN_ARGS[@]}"
step embed_throughput 75 "$PY" benchmarks/embed_throughput.py --out "$OUT" "${EMBED_ARGS[@]}"
step generation_speed 60 "$PY" benchmarks/generation_speed.py --out "$OUT/generation_speed.json" \
    "${GEN_ARGS[@]}"

"$PY" benchmarks/gpu_suite_report.py --dir "$OUT" --device "$DEV"
rc=$?
echo "gpu_suite: done in $(( $(date +%s) - START )) s (budget $BUDGET s); $OUT/gpu_suite.json, $OUT/gpu_suite.md"
exit $rc
