# CAE-IMPACT workbook. `make help` lists the targets.
# Everything runs inside .venv/, created from the pinned requirements.lock.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
JOBS ?=
RUN_ARGS ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@echo "CAE-IMPACT workbook: make <target>"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name cae-impact --display-name "CAE-IMPACT (.venv)" >/dev/null
	@touch $@

.PHONY: install
install: $(STAMP) ## create .venv from the lock file (done automatically by the other targets)

.PHONY: report
report: $(STAMP) ## run every CAE and the national synthesis (demo data if data/raw is empty), then the report
	@$(BIN)/cae-impact run --demo-if-empty $(if $(JOBS),--jobs $(JOBS)) $(RUN_ARGS)
	@$(BIN)/cae-impact report

.PHONY: run
run: $(STAMP) ## run every CAE and the national synthesis only (no Quarto book)
	@$(BIN)/cae-impact run --demo-if-empty $(if $(JOBS),--jobs $(JOBS)) $(RUN_ARGS)

.PHONY: demo
demo: $(STAMP) ## (re)generate the 7 demo CAEs in data/raw
	@$(BIN)/cae-impact demo

.PHONY: test
test: $(STAMP) ## lint (ruff), then the whole test suite (includes end-to-end runs on demo CAEs)
	@$(BIN)/ruff check --quiet . || { echo "ruff : le code ne passe pas le contrôle de style (voir ci-dessus)." >&2; exit 1; }
	@$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest n'a collecté aucun test (code 5) : la suite est introuvable ou vide." >&2; exit 1; fi; \
	exit $$rc

.PHONY: bench
bench: $(STAMP) ## measure the pipeline against the naive papermill + nbconvert baseline (prints ratios)
	@$(PY) benchmarks/bench.py

.PHONY: lab
lab: $(STAMP) ## open JupyterLab on the notebooks
	@$(BIN)/jupyter lab notebooks/

.PHONY: lock
lock: ## re-pin requirements.lock from pyproject.toml (needs uv; maintainers only)
	uv pip compile pyproject.toml --extra test --universal --python-version 3.11 --generate-hashes -o requirements.lock

.PHONY: clean
clean: ## remove build products (processed data, executed notebooks, HTML, book); keeps data/raw and .venv
	rm -rf outputs report/.book-stamp report/_book report/_site report/.quarto report/_generated report/cae report/notebooks report/_quarto.yml
	find data/processed -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

.PHONY: distclean
distclean: clean ## also remove .venv
	rm -rf $(VENV)
