VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch exactly 2.13.0 when absent: any other version pulls gigabytes of CUDA packages.
# the policy engine's C part (registry/policy/_*.c) is compiled by the editable install
$(STAMP): $(PY) pyproject.toml $(wildcard registry/policy/_*.c registry/policy/_*.h)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/clearance demo

test: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check gateway registry runners tests bench migrations
	$(VENV)/bin/ruff format --check gateway registry runners tests bench migrations

typecheck: install
	$(VENV)/bin/mypy

bench: install
	HF_HUB_OFFLINE=1 $(PY) -m bench

clean:
	rm -rf $(VENV) .clearance
