# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv and install what they need on first use.
# Another interpreter gets a venv of its own: `make test PYTHON=python3.10` uses .venv-python3.10/.
PYTHON ?= python3
VENV ?= $(if $(filter python3,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
TORCH ?= 1
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: demo test generate bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || \
	  { echo "error: $(PYTHON) is missing or older than Python 3.10 (the oldest supported); pass PYTHON=python3.X"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# PyTorch is an optional extra of the repository's own tests (never of grading).
$(VENV)/.torch: $(VENV)/.installed
	@if [ "$(TORCH)" = "1" ]; then \
	  $(PY) -m pip install -q torch==2.13.0 || echo "warning: torch==2.13.0 not installed; tests that need it will be skipped"; \
	fi
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/autograder demo

test: $(VENV)/.installed $(VENV)/.torch
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

generate: $(VENV)/.installed
	$(VENV)/bin/autograder generate

bench: $(VENV)/.installed
	$(PY) bench/grading_throughput.py

clean:
	rm -rf $(VENV) .venv-* gradebook.db autograded feedback submitted out demo-out .pytest_cache
