"""The GPU check, for the day a CUDA GPU is lent (one command, under 10 minutes):
``benchmarks/gpu_check.sh [--dry-run] [PYTHON]`` runs this file.

The backend follows what the machine has (:func:`choose_backend`):

- ``fbgemm`` (CUDA and a CUDA build of fbgemm-gpu): ``recsim calibrate --backend fbgemm``
  (FBGEMM's inference TBE with its 32-way cache, CUDA events) and
  ``tests/test_fbgemm_gpu.py`` (``fbgemm_lru``/``fbgemm_lfu`` against FBGEMM's GPU cache,
  every counter of every batch);
- ``tiered`` (CUDA, no fbgemm-gpu: the lent machines, ../shared/GPU.md): ``recsim
  calibrate --backend tiered --device cuda`` (an HBM buffer in front of tables in host
  memory, CUDA events), the real GPU calibration of the latency model without FBGEMM;
- ``none`` (no CUDA): nothing to run (exit 2; ``--dry-run`` still lists the plan).

recsim's wheel and the pure-Python packages it needs that the GPU machine lacks travel in
``.whl/`` (``benchmarks/gpu_wheels.sh`` downloads them here; git ignores the folder);
when ``recsim`` does not import, they are installed into ``/tmp/site`` first. The
calibration goes to ``calibrations/<gpu>[_tiered].json``. ``--dry-run`` prints the
backend, the steps and the wheels with their total size, and runs nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".whl"
LIMIT = 64 * 2**20  # what one device call carries
SITE = "/tmp/site"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def fbgemm_cuda() -> bool:
    """Whether a CUDA build of fbgemm-gpu is installed (``fbgemm-gpu-cpu`` is not one)."""
    if importlib.util.find_spec("fbgemm_gpu") is None:
        return False
    names = {d.metadata["Name"].lower().replace("_", "-")
             for d in importlib.metadata.distributions()}
    return any(n.startswith("fbgemm-gpu") and n != "fbgemm-gpu-cpu" for n in names)


def choose_backend(cuda: bool | None = None, fbgemm: bool | None = None) -> str:
    """``fbgemm``, ``tiered`` or ``none`` (module docstring); probes what is not given."""
    cuda = cuda_available() if cuda is None else cuda
    if not cuda:
        return "none"
    return "fbgemm" if (fbgemm_cuda() if fbgemm is None else fbgemm) else "tiered"


def gpu_name() -> str:
    import torch

    return re.sub(r"\W+", "_", torch.cuda.get_device_name(0).lower()).strip("_")


def steps(backend: str, py: str, gpu: str = "<gpu>") -> list[tuple[str, list[str], int]]:
    """(what, argv, timeout s) of each step of ``backend``."""
    cli = [py, "-P", "-m", "recsim.cli", "calibrate"]  # -P: the installed recsim
    if backend == "fbgemm":
        return [("calibrate FBGEMM's GPU cache", cli + ["--backend", "fbgemm", "-o",
                                                       f"calibrations/{gpu}.json"], 360),
                ("fbgemm_lru/lfu against FBGEMM, every counter",
                 [py, "-P", "-m", "pytest", "-p", "no:xdist", "-q", "-rs",
                  "tests/test_fbgemm_gpu.py"], 200)]
    if backend == "tiered":
        return [("calibrate the tiered backend on CUDA", cli + [
            "--backend", "tiered", "--device", "cuda", "-o",
            f"calibrations/{gpu}_tiered.json"], 480)]
    return []


def wheels() -> list[Path]:
    return sorted(WHEELS.glob("*.whl"))


def describe(backend: str, py: str) -> None:
    """The ``--dry-run`` listing; without CUDA here, the plan for a CUDA machine with
    the same packages (the lent one has no fbgemm-gpu: ``tiered``)."""
    print(f"gpu_check: backend here {backend} (CUDA {'yes' if cuda_available() else 'no'}, "
          f"CUDA fbgemm-gpu {'yes' if fbgemm_cuda() else 'no'})")
    if backend == "none":
        backend = choose_backend(cuda=True)
        print(f"gpu_check: on a CUDA machine with these packages: backend {backend}")
    for i, (what, argv, limit) in enumerate(steps(backend, py), 1):
        print(f"  step {i}: {what} (limit {limit} s): {' '.join(argv)}")
    found = wheels()
    total = sum(w.stat().st_size for w in found)
    print(f"gpu_check: wheels in {WHEELS.relative_to(ROOT)}/ (installed into {SITE} when "
          "recsim does not import):" if found else "gpu_check: no wheels in .whl/ yet; "
          "benchmarks/gpu_wheels.sh downloads them")
    for w in found:
        print(f"  {w.name} {w.stat().st_size / 2**20:.2f} MiB")
    print(f"gpu_check: wheels total {total / 2**20:.2f} MiB of the {LIMIT // 2**20} MiB a "
          f"call carries{' (over the limit!)' if total > LIMIT else ''}")


def install_wheels(py: str, env: dict) -> None:
    """Install ``.whl/`` into ``SITE`` and put it on ``PYTHONPATH`` if recsim is missing."""
    if subprocess.run([py, "-c", "import recsim"], env=env, cwd=ROOT / "benchmarks",
                      capture_output=True).returncode == 0 or not wheels():
        return
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--no-compile", "--no-cache-dir", "--upgrade", "--target", SITE,
                    *map(str, wheels())], check=True)
    env["PYTHONPATH"] = SITE + os.pathsep + env.get("PYTHONPATH", "")


def main(argv: list[str]) -> int:
    dry = "--dry-run" in argv
    rest = [a for a in argv if a != "--dry-run"]
    py = rest[0] if rest else sys.executable
    backend = choose_backend()
    if dry:
        describe(backend, py)
        return 0
    if backend == "none":
        print("gpu_check: needs a CUDA GPU (--dry-run lists the plan)", file=sys.stderr)
        return 2
    env = {**os.environ, "RECSIM_CACHE_DIR": os.environ.get("RECSIM_CACHE_DIR",
                                                           str(ROOT / ".kcache"))}
    install_wheels(py, env)
    start = time.time()
    for what, cmd, limit in steps(backend, py, gpu_name()):
        print(f"gpu_check: {what}", flush=True)
        subprocess.run(cmd, env=env, cwd=ROOT, timeout=limit, check=True)
    print(f"gpu_check: done in {time.time() - start:.0f} s ({backend} backend)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
