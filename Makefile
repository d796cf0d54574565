# Two commands set everything up on a fresh machine with python3 and make:
#   make compare   - create .venv, install, race the three regimes, write runs/compare/
#   make test      - install the test extra, lint, run the whole suite
#   make check-maths - only the maths tests (gradients, torch parity, engine equality)
# Then: make lab (the experiments, into runs/), make figures (re-make the README's images in
# plots/), make bench, make bench-kernels and make bench-compare (speed tables).
# compare, lab and test write only to git-ignored places (runs/, .venv/, caches): git status
# stays clean. Only `make figures` (and the bench targets) change tracked files in plots/.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
# ruff cannot read setup.cfg, so its few settings live here rather than in a new file.
LINT_PATHS := $(wildcard scratch_gd tests benchmarks)
RUFF_RULES := --extend-select I,UP,B,NPY --extend-ignore C408 --line-length 100

RUNS   := runs

.PHONY: compare lab figures test check-maths lint format bench bench-kernels bench-compare clean \
	install install-test

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
	$(BIN)/python -m scratch_gd compare --out $(RUNS)/compare $(ARGS)

# The learning lab: the fair race and the four experiments, each writing its figures and a
# record into runs/<folder>. Each entry is folder:command (a "+" stands for a space).
LAB_COMMANDS := compare-fair:compare+--fair sweep-batch:sweep-batch noise:noise \
	momentum:momentum lr-grid:lr-grid
lab: $(VENV)/.installed
	@for entry in $(LAB_COMMANDS); do \
		folder=$${entry%%:*}; command=$$(echo $${entry#*:} | tr + ' '); \
		echo "== python -m scratch_gd $$command --out $(RUNS)/$$folder"; \
		$(BIN)/python -m scratch_gd $$command --no-progress --out $(RUNS)/$$folder $(ARGS) \
			|| exit $$?; \
	done

# The images README.md and docs/ show, each from runs/<folder>/ (folder/file). They are
# small committed copies; this target is the only one that rewrites them, always with the
# commands' defaults (no ARGS).
FIGURES := compare/compare_steps.png compare/compare_samples.png compare/compare_time.png \
	compare/compare_fits.png compare/lesson_batch.png compare/lesson_stochastic.png \
	compare/lesson_minibatch128.png compare/compare_fits.gif compare-fair/fair_seconds.png \
	compare-fair/fair_sweep.png sweep-batch/sweep_batch.png noise/noise.png \
	momentum/momentum.png momentum/momentum_phase.png lr-grid/lr_grid.png \
	landscape/landscape.png
figures: $(VENV)/.installed
	$(MAKE) --no-print-directory compare ARGS="--no-progress --animate"
	$(MAKE) --no-print-directory lab ARGS=--no-progress
	$(BIN)/python -m scratch_gd landscape --no-progress --out $(RUNS)/landscape
	@for figure in $(FIGURES); do \
		echo "plots/$${figure#*/} <- $(RUNS)/$$figure"; \
		cp $(RUNS)/$$figure plots/$${figure#*/} || exit $$?; \
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

# How long make compare takes, warm and with an empty Numba cache, painter on and off.
bench-compare: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_compare.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
