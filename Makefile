# abtest: the two commands a new user needs are `make demo` and `make test`.
# Both bootstrap a local virtual environment (.venv) from pyproject.toml with only python3.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= reports/demo
JOBS   ?=

.PHONY: setup demo test test-fast lab browser-deps bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install abtest with its dev extras

browser-deps:  ## headless Chromium for the report tests (Debian packages, installed when missing)
	bash scripts/install-chromium.sh

demo: setup  ## build the demo data if needed and run the demo batch of reports
	$(BIN)/abtest demo --out $(OUT) $(if $(JOBS),--jobs $(JOBS),)

test: setup browser-deps  ## the whole test suite, slow, notebook, browser and Spark tests included
	$(BIN)/python -m pytest

test-fast: setup  ## unit tests only (skips slow, notebook, browser and Spark tests)
	$(BIN)/python -m pytest -m "not slow and not notebooks and not browser and not spark"

lab: setup  ## open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

bench: setup  ## run every benchmark (minutes; prints one comparison line each)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: setup
	$(BIN)/ruff check abtest tests benchmarks

clean:
	rm -rf $(VENV) reports .pytest_cache
