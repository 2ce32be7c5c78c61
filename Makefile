# Two commands on a fresh Debian machine (see README.md):
#   make demo   # the main job on the built-in demo corpus
#   make test   # the whole test suite
# Each installs what it needs itself: a virtualenv in .venv, and Debian packages.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: FluidSynth + a General MIDI soundfont render the demo corpus;
# hydrogen-drumkits holds the real drum kits of the drums dataset and of the shipped
# model's test; chromium runs the web page's browser test (tests/web). Tests that need
# one of them skip without it, and fail under CI=true.
APT_PACKAGES := fluidsynth timgm6mb-soundfont hydrogen-drumkits chromium
PYTEST_ARGS ?=

.PHONY: install system-deps demo test test-all lint bench clean

# torch is installed on its own and first: the pinned CPU wheel. A bare torch
# requirement on a machine without torch would pull several GB of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(STAMP) system-deps

# Idempotent: installs only the packages dpkg does not list as installed (apt-get
# update first, quietly); without apt-get (not Debian) it says what to install.
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then \
		echo "system packages present: $(APT_PACKAGES)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "warning: no apt-get here; install" $$missing "yourself (tests needing them skip)"; \
	else \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			$$missing >/dev/null; \
	fi

demo: install
	$(BIN)/torchmusic demo --out demo_out

# --dist loadgroup: the tests of one xdist_group (the Ray tests: one local Ray instance
# per module) stay on one worker; every other test is spread as with plain -n 2.
test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# The quick mode of every benchmark (tables + JSON under bench_out/quick/), time-bounded.
bench: install
	$(BIN)/python benchmarks/run_all.py --out bench_out/quick

# One GPU check on a machine with one CUDA GPU, after `make install` (or with a python3
# that has PyTorch): pytest -m gpu + the GPU rows of the benchmarks in < 8 minutes,
# one JSON + one table in bench_out/gpu_suite/. GPU_SUITE_ALLOW_CPU=1: CPU dry run.
.PHONY: gpu-check
gpu-check:
	benchmarks/gpu_suite.sh --out bench_out/gpu_suite

clean:
	rm -rf $(VENV) demo_out bench_out .pytest_cache
