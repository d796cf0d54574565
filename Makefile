# Two commands set everything up on a fresh machine with python3 and make:
#   make compare   - create .venv, install, race the three regimes, write plots/
#   make test      - install the test extra, lint, run the whole suite
#   make check-maths - only the maths tests (gradients, torch parity, engine equality)
# Then: make lab (the experiments), make bench and make bench-kernels (speed tables).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
# ruff cannot read setup.cfg, so its few settings live here rather than in a new file.
LINT_PATHS := $(wildcard scratch_gd tests benchmarks)
RUFF_RULES := --extend-select I,UP,B,NPY --extend-ignore C408 --line-length 100

.PHONY: compare lab test check-maths lint format bench bench-kernels clean install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files re-run pip only when the package metadata changes.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -e .
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

compare: $(VENV)/.installed
	$(BIN)/python -m scratch_gd compare $(ARGS)

# The learning lab: the fair race and the four experiments, each writing plots/ and a record.
LAB_COMMANDS := "compare --fair" sweep-batch noise momentum lr-grid
lab: $(VENV)/.installed
	@for command in $(LAB_COMMANDS); do \
		echo "== python -m scratch_gd $$command"; \
		$(BIN)/python -m scratch_gd $$command --no-progress $(ARGS) || exit $$?; \
	done

lint: $(VENV)/.installed-test
	$(BIN)/ruff check $(RUFF_RULES) $(LINT_PATHS)
	$(BIN)/ruff format --check --line-length 100 $(LINT_PATHS)

format: $(VENV)/.installed-test
	$(BIN)/ruff format --line-length 100 $(LINT_PATHS)
	$(BIN)/ruff check --fix $(RUFF_RULES) $(LINT_PATHS)

test: lint
	$(BIN)/python -m pytest $(ARGS)

# Just the maths: finite differences, torch parity, SGD forms, backends, engine equality.
MATHS_TESTS := tests/reference tests/engine
check-maths: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q $(MATHS_TESTS) $(ARGS)

# Benchmarks print tables and write runs/bench/ (ignored by git); ARGS="--out plots"
# refreshes the copies the README shows. They are never timed unit tests.
bench: $(VENV)/.installed-test
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_train.py $(ARGS)

bench-kernels: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_kernels.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
