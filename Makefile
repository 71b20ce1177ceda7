# Each target sets up its own virtual environment on first use: `make demo` and `make test`
# work on a fresh clone with nothing but python3 (3.9 or newer) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/jobstep demo

lint: $(STAMP)
	$(BIN)/ruff check handler tests

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build dist handler/*.egg-info .pytest_cache .ruff_cache .hypothesis
