# Entry points named in README.md. Each sets up what it needs from a fresh machine first.
VENV ?= .venv
export PINNLMA_VENV := $(VENV)

.PHONY: setup setup-full test quickstart clean

setup:
	bash scripts/setup.sh basic

setup-full:
	bash scripts/setup.sh full

# The whole test suite, including the cupynumeric/Legate backend on CPU.
test: setup-full
	$(VENV)/bin/python -m pytest -q

# Install and run the main job on the embedded default backend (torch on CPU).
quickstart: setup
	$(VENV)/bin/pinnlma run burgers --out runs/burgers.h5 --plot runs/burgers.png --overwrite

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
