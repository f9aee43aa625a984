# Entry points named in README.md. Each sets up what it needs from a fresh machine first.
VENV ?= .venv
export PINNLMA_VENV := $(VENV)

.PHONY: setup setup-full test lint format docs quickstart clean

setup:
	bash scripts/setup.sh basic

setup-full:
	bash scripts/setup.sh full

# The whole test suite, including the cupynumeric/Legate backend on CPU; two workers, one test file each
# at a time (the NIST suite on Legate is the long one and gets a worker to itself).
test: setup-full
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# The habits: ruff (lint, and the formatter as a check) and mypy over the package; both configured in pyproject.toml.
lint: setup-full
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy

# Apply the formatter and ruff's safe fixes.
format: setup-full
	$(VENV)/bin/ruff format
	$(VENV)/bin/ruff check --fix

# The API reference from the docstrings (mkdocs.yml), strict: an undocumented public name or a broken reference fails.
docs: setup-full
	$(VENV)/bin/ruff check --select D100,D101,D102,D103,D104 pinnlma
	$(VENV)/bin/mkdocs build --strict --quiet

# Install and run the main job on the embedded default backend (torch on CPU).
quickstart: setup
	$(VENV)/bin/pinnlma run burgers --out runs/burgers.h5 --plot runs/burgers.png --overwrite

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build site *.egg-info
