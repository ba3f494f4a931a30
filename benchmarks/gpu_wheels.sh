#!/usr/bin/env bash
# Download here, into .whl/ (ignored by git), the wheels benchmarks/gpu_check.sh needs on
# the lent GPU machine (Python 3.12, manylinux x86-64; torch, numba, numpy, pyarrow,
# matplotlib, pyyaml, tqdm, markdown and sortedcontainers are there already, ../shared/GPU.md):
# recsim itself (built from this checkout) and pydantic with the packages it needs, at the
# versions of this venv. Usage: benchmarks/gpu_wheels.sh [PYTHON]; then
# benchmarks/gpu_check.sh --dry-run lists them and their total size (a call carries 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
pins=$("$py" - <<'PY'
from importlib.metadata import version
print(" ".join(f"{n}=={version(n)}" for n in
               ("pydantic", "pydantic-core", "annotated-types", "typing-inspection")))
PY
)
rm -rf .whl && mkdir .whl
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do platforms+=(--platform "$p"); done
# shellcheck disable=SC2086
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d .whl $pins
"$py" -m pip wheel -q --no-deps --no-build-isolation -w .whl .
ls -l .whl
