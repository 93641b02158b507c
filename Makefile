# CAE-IMPACT workbook. `make help` lists the targets (in French, for CAE staff).
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
BENCH_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## lister les cibles (cette aide)
	@echo "Classeur CAE-IMPACT : make <cible>"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name cae-impact --display-name "CAE-IMPACT (.venv)" >/dev/null
	@touch $@

.PHONY: install
install: $(STAMP) ## créer .venv depuis requirements.lock (fait automatiquement par les autres cibles)

.PHONY: report
# A failed CAE does not stop the book: it is assembled from the CAEs that
# succeeded, and the last line (French, from `run --bilan`) names the others.
# Exit 2 (usage error, no CAE) stops here.
report: $(STAMP) ## traiter chaque CAE et la synthèse nationale (démonstration si data/raw est vide), puis le livre
	@$(BIN)/cae-impact run --demo-if-empty $(if $(JOBS),--jobs $(JOBS)) $(RUN_ARGS); rc=$$?; \
	if [ $$rc -ge 2 ]; then exit $$rc; fi; \
	$(BIN)/cae-impact report || exit $$?; \
	$(BIN)/cae-impact run --bilan $(RUN_ARGS)

.PHONY: run
run: $(STAMP) ## traiter chaque CAE et la synthèse nationale, sans le livre Quarto
	@$(BIN)/cae-impact run --demo-if-empty $(if $(JOBS),--jobs $(JOBS)) $(RUN_ARGS)

.PHONY: demo
demo: $(STAMP) ## (re)générer les 7 CAE de démonstration dans data/raw (retrait : cae-impact demo --supprimer)
	@$(BIN)/cae-impact demo

.PHONY: test
test: $(STAMP) ## contrôler le style (ruff), puis lancer tous les tests (dont des exécutions complètes sur la démonstration)
	@$(BIN)/ruff check --quiet . || { echo "ruff : le code ne passe pas le contrôle de style (voir ci-dessus)." >&2; exit 1; }
	@$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest n'a collecté aucun test (code 5) : la suite est introuvable ou vide." >&2; exit 1; fi; \
	exit $$rc

.PHONY: bench
bench: $(STAMP) ## mesurer la vitesse face à papermill + nbconvert lancés naïvement (affiche des rapports)
	@$(PY) benchmarks/bench.py $(BENCH_ARGS)

.PHONY: lab
lab: $(STAMP) ## ouvrir JupyterLab sur les carnets
	@$(BIN)/jupyter lab notebooks/

.PHONY: lock
lock: ## refaire requirements.lock depuis pyproject.toml (uv requis ; mainteneurs)
	uv pip compile pyproject.toml --extra test --extra dask --universal --python-version 3.11 --generate-hashes -o requirements.lock

.PHONY: clean
clean: ## supprimer les produits (données traitées, carnets exécutés, HTML, livre) ; garde data/raw et .venv
	rm -rf outputs report/sensibilite.qmd report/.book-stamp report/_book report/_site report/.quarto report/_generated report/cae report/notebooks report/_quarto.yml
	find data/processed -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

.PHONY: distclean
distclean: clean ## supprimer aussi .venv
	rm -rf $(VENV)
