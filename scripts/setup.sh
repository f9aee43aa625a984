#!/usr/bin/env bash
# Set up a working pinnlma environment on a fresh Linux machine.
#   scripts/setup.sh          venv + pinnlma (torch backend only)
#   scripts/setup.sh full     venv + pinnlma[test,legate,dev] + the CPU driver library cupynumeric needs
# The venv lives in $PINNLMA_VENV (default .venv). Idempotent: re-running only fills what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-basic}"
venv="${PINNLMA_VENV:-.venv}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: pinnlma needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating virtual environment $venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
pip=("$venv/bin/python" -m pip install --quiet)
# torch first, pinned: 2.13.0 is a CPU wheel; an unpinned torch may download a multi-GB CUDA build.
"$venv/bin/python" -c 'import torch' 2>/dev/null || "${pip[@]}" "torch==2.13.0"
case "$mode" in
  basic) "${pip[@]}" -e . ;;
  full)
    "${pip[@]}" -e ".[test,legate,dev]"
    # the peer of the peer-tlm benchmark (and its test); its Lightning helpers are not needed
    "$venv/bin/python" -c 'import torch_levenberg_marquardt' 2>/dev/null \
      || "${pip[@]}" --no-deps "torch-levenberg-marquardt>=1.2.3"
    # cupynumeric's wheels need libcuda.so.1 even without a GPU: fetch Debian's libcuda1 into a user cache.
    "$venv/bin/pinnlma" setup-legate
    ;;
  *) echo "setup: unknown mode '$mode' (use: basic | full)" >&2; exit 2 ;;
esac
echo "setup: ready ($venv, mode $mode)"
