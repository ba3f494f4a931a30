"""fbgemm_lru / fbgemm_lfu against FBGEMM's own GPU cache, batch by batch, exactly
(:func:`recsim.harness.fbgemm.counter_check`). Needs CUDA and the CUDA build of
fbgemm-gpu 1.8.0: skipped elsewhere; ``benchmarks/gpu_check.sh`` runs it with the fbgemm
calibration on the day a GPU is at hand."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU (the FBGEMM cache runs on CUDA only)", allow_module_level=True)
pytest.importorskip("fbgemm_gpu", reason="FBGEMM not installed (the torchrec extra)")

from recsim.harness.fbgemm import counter_check  # noqa: E402
from recsim.traces import Trace  # noqa: E402


def _trace(seed, n=60_000, batch=2_000, heights=(5_000, 20_000, 1_000, 40_000)):
    rng = np.random.default_rng(seed)
    table = rng.integers(0, len(heights), n).astype(np.int32)
    row = (rng.zipf(1.1, n) - 1) % np.asarray(heights)[table]
    return Trace.from_arrays(table, row.astype(np.int64), np.arange(0, n + 1, batch), heights)


@pytest.mark.parametrize("algorithm", ["lru", "lfu"])
@pytest.mark.parametrize("capacity", [640, 6_400])  # 20 and 200 sets: conflicts, then few
def test_per_batch_counters_equal_fbgemm_gpu_cache(algorithm, capacity):
    check = counter_check(_trace(0), capacity, algorithm)
    assert check["fbgemm"]["requested_indices"] == check["recsim"]["requested_indices"]
    assert check["mismatches"] == [], {k: (check["fbgemm"][k][:5], check["recsim"][k][:5])
                                       for k in check["fbgemm"]}
