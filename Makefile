# Each target sets up its own virtual environment on first use: `make demo` and `make test`
# work on a fresh clone with nothing but python3 (3.9 or newer) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint package bench clean

# A current pip: 24.1 and older picked wheels for the package that the function's Python 3.9 cannot import.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=24.2'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/jobstep demo

package: $(STAMP)
	$(BIN)/jobstep package

# The polling, progress and invocation benchmarks (bench/), with their targets, and the frontier image in
# bench/out/; about two minutes.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check handler tests bench

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build dist handler/*.egg-info .pytest_cache .ruff_cache .hypothesis
