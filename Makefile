# Entry points named in README.md. Each sets up what it needs from a fresh machine first.
VENV ?= .venv
export PINNLMA_VENV := $(VENV)

.PHONY: setup setup-full test quickstart clean

setup:
	bash scripts/setup.sh basic

setup-full:
	bash scripts/setup.sh full

# The whole test suite, including the cupynumeric/Legate backend on CPU; two workers, one test file each
# at a time (the NIST suite on Legate is the long one and gets a worker to itself).
test: setup-full
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# Install and run the main job on the embedded default backend (torch on CPU).
quickstart: setup
	$(VENV)/bin/pinnlma run burgers --out runs/burgers.h5 --plot runs/burgers.png --overwrite

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
