# Each target sets up its own virtual environment on first use: `make demo` and `make test`
# work on a fresh clone with nothing but python3 (3.9 or newer) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# What is installed, one stamp each: the project alone (demo, package); with its test extra (lint, test),
# every Huawei SDK the tests prove the registry against; with the bench extra too (bench).
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.test-installed
BENCH_STAMP := $(VENV)/.bench-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: demo test lint package bench mutate clean FORCE

# A .venv whose python is missing or older than 3.9 is set up again even when its stamps are newer
# than pyproject.toml; tools/venv-check says why and removes it first.
VENV_PYTHON_OK := $(shell $(BIN)/python -c 'import sys; print(sys.version_info >= (3, 9))' 2>/dev/null)

# A current pip: 24.1 and older picked wheels for the package that the function's Python 3.9 cannot import.
$(STAMP): pyproject.toml Makefile $(if $(filter True,$(VENV_PYTHON_OK)),,FORCE)
	@sh tools/venv-check '$(PYTHON)' $(VENV)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade 'pip>=24.2'
	$(PIP) -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) -e '.[test]'
	touch $@

# The bench extra is matplotlib, for the frontier image.
$(BENCH_STAMP): $(STAMP)
	$(PIP) -e '.[test,bench]'
	touch $@

# The dev extra is mutmut, for make mutate.
$(DEV_STAMP): $(TEST_STAMP)
	$(PIP) -e '.[test,dev]'
	touch $@

FORCE:

demo: $(STAMP)
	$(BIN)/jobstep demo

package: $(STAMP)
	$(BIN)/jobstep package

# The polling, progress and invocation benchmarks (bench/), with their targets, and the frontier image in
# bench/out/; about 80 s.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

# Mutation testing of the decision modules (tools/mutate.toml), outside make test: run it before a release and
# after a change to a decision module; MODULES="events errors" runs some. mutmut, not cosmic-ray: it forks a pytest
# that has collected the tests and runs only the tests that reach the mutated function (cosmic-ray starts a pytest
# per mutant, 3.6 s each here, one at a time, and mutates the checkout in place).
mutate: $(DEV_STAMP)
	$(BIN)/python tools/mutate.py $(MODULES)

lint: $(TEST_STAMP)
	$(BIN)/ruff check handler tests bench tools
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build dist handler/*.egg-info .pytest_cache .ruff_cache .hypothesis
