# The two commands of the README:  `make demo`  and  `make test`.
# Both create .venv on first use; nothing is installed outside it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU machines: take torch's CPU build first so that no dependency pulls a multi-GB CUDA build.
# GPU machines: `make install TORCH_SPEC=torch` (or install your CUDA torch into .venv first).
TORCH_SPEC ?= torch==2.13.0
DEMO_DIR ?= veriframe-demo

.PHONY: install demo test lint protos bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/veriframe demo --workdir $(DEMO_DIR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/python -m service.api.codegen --check

test: install lint
	$(BIN)/python -m pytest

protos: install
	$(BIN)/python -m service.api.codegen

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
