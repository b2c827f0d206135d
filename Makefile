# alphaloop — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint bench install install-dev clean compose-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# llama-cpp-python (the `local` extra) compiles llama.cpp; a build for the building
# CPU's every feature (AMX included) has crashed on matrix products, so it is built
# for a portable x86-64 feature set (ignored elsewhere). A set CMAKE_ARGS wins.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	CMAKE_ARGS="$${CMAKE_ARGS:-$(LLAMA_CMAKE_ARGS)}" $(BIN)/pip install --quiet -e ".[dev,all]"
	touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

## demo: set up (first time) and run the main job on bundled data
demo: $(STAMP_RUN)
	$(BIN)/alphaloop demo

## test: set up with dev extras (first time), lint, check the layer contract, run the suite
test: $(STAMP_DEV)
	@# the dashboard's browser tests drive Debian's chromium
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || { echo "make test: installing chromium with apt-get failed; install Debian's chromium package (/usr/bin/chromium) and retry" >&2; exit 1; }; \
	  else \
	    echo "make test: the dashboard tests need /usr/bin/chromium; run 'sudo apt-get install chromium' (or make test as root) and retry" >&2; exit 1; \
	  fi; \
	fi
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/ruff format --check src tests bench

## bench: every benchmark, side by side with its peer (long: purgedcv alone takes ~15 min)
bench: $(STAMP_DEV)
	$(BIN)/python bench/bench_data.py
	$(BIN)/python bench/bench_factors.py
	$(BIN)/python bench/bench_backtest.py
	$(BIN)/python bench/bench_event.py
	$(BIN)/python bench/bench_validation.py
	$(BIN)/python bench/bench_ml.py
	$(BIN)/python bench/bench_pairs.py
	$(BIN)/python bench/bench_mining.py

## compose-check: validate docker-compose.yml without Docker (YAML, services, no secrets)
compose-check: $(STAMP_RUN)
	$(BIN)/python deploy/check_compose.py docker-compose.yml

clean:
	rm -rf $(VENV) .alphaloop .pytest_cache .ruff_cache
