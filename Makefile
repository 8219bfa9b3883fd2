# The two commands: `make demo` (the main job) and `make test`. Both bootstrap .venv themselves.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& { echo $$p; break; }; done)
PYTEST_WORKERS ?= 2

.PHONY: demo test lint format lab bench fuzz venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is required (python3.11 not found)"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

demo: venv
	$(BIN)/updown demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/deptry .

# The parallel suite first, then the latency-sensitive tests on their own (see pyproject markers).
test: lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --timeout 600 -q --durations=15 -m "not isolated"
	$(BIN)/python -m pytest --timeout 600 -q -m isolated

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lab: venv
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: venv
	@for f in bench/*.py; do [ $$f = bench/fuzz_campaign.py ] && continue; \
		echo "== $$f"; $(BIN)/python $$f || exit 1; done

# The fuzz campaign (docs/fuzzing.md): >= 100,000 generated inputs; `make test` runs a seeded sample.
fuzz: venv
	$(BIN)/python bench/fuzz_campaign.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
