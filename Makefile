# abtest: the two commands a new user needs are `make demo` and `make test`.
# Both bootstrap a local virtual environment (.venv) from pyproject.toml with only python3.
# Installs are staged: `make demo` installs the runtime dependencies only (what the demo batch
# needs); `make test` adds the dev and Spark extras; `make lab` adds JupyterLab. One stamp file
# per stage, remade when pyproject.toml changes. pip shows its progress (no --quiet).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.stamp-runtime
DEV_STAMP     := $(VENV)/.stamp-dev
LAB_STAMP     := $(VENV)/.stamp-lab
# --no-compile: pip would byte-compile every module of every package (tests included: ~200 MB,
# and most of the install time); Python compiles the modules it imports on first use instead.
PIP    := $(BIN)/python -m pip install --progress-bar on --no-compile
OUT    ?= reports/demo
JOBS   ?=
START  := $(shell date +%s)
# JupyterLab: loopback only; --allow-root when run as root (containers), which Jupyter refuses otherwise
LAB_PORT ?= 8888
LAB_OPTS ?=
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup demo test test-fast lab browser-deps bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing abtest and its runtime dependencies into $(VENV)"
	$(PIP) -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing abtest with the dev and spark extras into $(VENV)"
	$(PIP) -e ".[dev,spark]"
	touch $@ $(RUNTIME_STAMP) $(LAB_STAMP)

$(LAB_STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing JupyterLab into $(VENV)"
	$(PIP) -e ".[lab]"
	touch $@

setup: $(DEV_STAMP)  ## create .venv and install abtest with its dev and spark extras

browser-deps:  ## headless Chromium for the report tests (Debian packages, installed when missing)
	bash scripts/install-chromium.sh

demo: $(RUNTIME_STAMP)  ## build the demo data if needed and run the demo batch of reports
	$(BIN)/abtest demo --out $(OUT) $(if $(JOBS),--jobs $(JOBS),)
	@echo "make demo: done in $$(( $$(date +%s) - $(START) )) s (install included); open $(OUT)/index.html"

test: $(DEV_STAMP) browser-deps  ## the whole test suite, slow, notebook, browser and Spark tests included
	$(BIN)/python -m pytest

test-fast: $(DEV_STAMP)  ## unit tests only (skips slow, notebook, browser and Spark tests)
	$(BIN)/python -m pytest -m "not slow and not notebooks and not browser and not spark"

lab: $(LAB_STAMP)  ## open the notebooks in JupyterLab (http://127.0.0.1:$(LAB_PORT))
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) $(LAB_ROOT) $(LAB_OPTS) notebooks/

bench: $(DEV_STAMP)  ## run every benchmark (minutes; prints one comparison line each)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(DEV_STAMP)
	$(BIN)/ruff check abtest tests benchmarks

clean:
	rm -rf $(VENV) reports .pytest_cache
