# The two commands of the README:  `make demo`  and  `make test`.
# Both create .venv on first use; nothing is installed outside it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch is installed first, on its own, so that no dependency (diffusers, invisible-watermark) picks
# the build. Default: the CPU wheel this project's machines keep on disk (pip's find-links).
# CPU machine elsewhere: `make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu`.
# GPU machine: `make install TORCH_SPEC=torch` (PyPI's Linux wheel is the CUDA build), or install
# your own CUDA torch into .venv first: an importable torch is never replaced.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
DEMO_DIR ?= veriframe-demo
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint protos bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -c "import torch" 2>/dev/null || \
	  $(BIN)/pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/veriframe demo --workdir $(DEMO_DIR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/python -m veriframe.service.api.codegen --check

# Two workers, one test file each at a time (--dist loadfile): most tests wait on servers, encoders
# and subprocesses, so the suite takes ~10 min instead of ~18 on a 2-core machine.
# Tests marked `serial` (timing assertions) run afterwards on their own.
# `make test PYTEST_WORKERS=0` runs it in one process.
test: install lint
	$(BIN)/python -m pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile -m "not serial")
	$(if $(filter 0,$(PYTEST_WORKERS)),,$(BIN)/python -m pytest -m serial)

protos: install
	$(BIN)/python -m veriframe.service.api.codegen

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
