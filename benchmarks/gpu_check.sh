#!/usr/bin/env bash
# The GPU check, for the day a CUDA GPU is lent (under 10 minutes in all):
#   1. recsim calibrate --backend fbgemm: FBGEMM's inference TBE with its 32-way cache,
#      timed with CUDA events -> calibrations/<gpu>.json (+ .png/.svg);
#   2. tests/test_fbgemm_gpu.py: fbgemm_lru / fbgemm_lfu against FBGEMM's GPU cache,
#      every counter of every batch compared exactly (recsim.harness.fbgemm.counter_check).
# Needs CUDA builds of torch 2.13 and fbgemm-gpu 1.8.0 in the venv (docs/production.md,
# "Installing FBGEMM and TorchRec"). Usage: benchmarks/gpu_check.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
export RECSIM_CACHE_DIR=${RECSIM_CACHE_DIR:-$PWD/.kcache}
"$py" -c "import torch, fbgemm_gpu; assert torch.cuda.is_available()" 2>/dev/null \
    || { echo "gpu_check: needs a CUDA GPU with fbgemm-gpu 1.8.0" >&2; exit 2; }
gpu=$("$py" -c "import torch, re; print(re.sub(r'\W+', '_', torch.cuda.get_device_name(0).lower()).strip('_'))")
start=$(date +%s)
timeout 360 "$py" -m recsim.cli calibrate --backend fbgemm -o "calibrations/$gpu.json"
timeout 200 "$py" -m pytest -p no:xdist -q -rs tests/test_fbgemm_gpu.py
echo "gpu_check: done in $(( $(date +%s) - start )) s; calibration calibrations/$gpu.json"
