#!/usr/bin/env bash
# The prepared GPU check (about 5 minutes at most on one GPU): the torch CUDA path, CUDA replicas, the
# Legate GPU backend and the matrix-free solver, on the Burgers PINN and a 10^5-parameter network, each
# update checked against the CPU backend to rounding (pinnlma/bench/gpu_check.py says what and how).
#
#   scripts/gpu_check.sh [OUT.json] [--cases a,b] [--device cuda:1]
#
# Writes the JSON of times to OUT.json (default: $OUT/gpu_check.json, else results/gpu_check.json).
# Exit status: 0 all equal, 1 a mismatch or a failed path, 2 no GPU (said on stderr). Needs a CUDA build
# of torch and, for the Legate case, `pinnlma setup-legate` (nvidia-cupynumeric with GPU support).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PINNLMA_VENV:-.venv}/bin/python"
[ -x "$python" ] || python="$(command -v python3)"
args=()
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then  # a first argument that is not an option: the output path
    args+=(--out "$1")
    shift
fi
# 300 s for everything; timeout's own status (124) says the check ran too long
exec timeout 300 "$python" -m pinnlma.bench.gpu_check "${args[@]}" "$@"
