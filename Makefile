# convcli: `make` lists the targets. Everything runs from a virtual environment in .venv,
# created on first use with $(PYTHON) (3.11 or newer).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT := demo_output
DEMO_KERNELS := vertical horizontal laplacian gaussian-5

.DEFAULT_GOAL := help
.PHONY: help install dev demo lint test bench clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "convcli needs Python 3.11 or newer; run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[bench,dask]'
	@touch $@

install: $(VENV)/.installed ## create .venv and install convcli into it
dev: $(VENV)/.installed-dev ## install convcli with the test and lint tools

demo: install ## filter every image in sample_images/ into demo_output/
	@mkdir -p $(DEMO_OUT)
	@for image in sample_images/*.png sample_images/*.jpg; do \
	  name=$$(basename "$${image%.*}"); \
	  for kernel in $(DEMO_KERNELS); do \
	    $(BIN)/convcli apply -k $$kernel --padding same --pad-mode reflect \
	      "$$image" "$(DEMO_OUT)/$$name-$$kernel.png" || exit 1; \
	  done; \
	  $(BIN)/convcli sheet "$$image" $(addprefix -k ,$(DEMO_KERNELS)) --padding same \
	    --pad-mode reflect -o "$(DEMO_OUT)/$$name-sheet.png" || exit 1; \
	  echo "  $$image -> $(DEMO_OUT)/$$name-{$$(echo $(DEMO_KERNELS) sheet | tr ' ' ,)}.png"; \
	done
	@echo "Edges (vertical, horizontal, laplacian) and blur (gaussian-5) are in $(DEMO_OUT)/,"
	@echo "and side by side with the input in each *-sheet.png."

lint: dev ## check style (ruff) and types (mypy --strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## lint, then run the whole test suite
	$(BIN)/pytest

bench: $(VENV)/.installed-bench ## time convcli against OpenCV, SciPy, ImageMagick, libvips (minutes)
	@# Some machines pin OpenBLAS to another processor's kernel; users' machines do not.
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python scripts/bench.py

clean: ## remove the virtual environment, demo output and caches
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
