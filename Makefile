# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lcr demo

# Runs the whole suite once; store tests run on SQLite and on PostgreSQL (see tests/conftest.py).
test: $(STAMP)
	$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check lcr tests bench migrations
	$(BIN)/mypy lcr

bench: $(STAMP)
	$(BIN)/python -m pytest bench -q -p no:cacheprovider --benchmark-only

clean:
	rm -rf $(VENV) var .pytest_cache
