#!/usr/bin/env bash
# The GPU check, for the day a CUDA GPU is lent (under 10 minutes in all): FBGEMM's
# calibration and counter check where a CUDA fbgemm-gpu is installed, else the tiered
# backend's calibration on CUDA (benchmarks/gpu_check.py says which and why).
# Usage: benchmarks/gpu_check.sh [--dry-run] [PYTHON]
#   PYTHON: default .venv/bin/python here, python3 where there is no venv (the GPU machine,
#   whose missing packages travel in .whl/: benchmarks/gpu_wheels.sh downloads them).
set -euo pipefail
cd "$(dirname "$0")/.."
py=python3
[ -x .venv/bin/python ] && py=.venv/bin/python
for arg in "$@"; do [ "$arg" != --dry-run ] && py=$arg; done
exec "$py" benchmarks/gpu_check.py "$@"
