"""RECSIM_DEBUG=1 runs the replay loop and the hooks as plain Python (for pdb) with the
counts of the compiled loop."""

import json
import os
import subprocess
import sys

import numpy as np

import recsim

CASES = [("lru", 4, 2, "none"), ("arc", 5, 0, "none"), ("lru", 6, 0, "next_n")]
SCRIPT = """
import recsim, json, numba, numpy as np  # recsim first: it sets the switch for numba
assert numba.config.DISABLE_JIT
trace = recsim.Trace.from_arrays(np.zeros(80, np.int32), (np.arange(80) * 7) % 11)
print(json.dumps([recsim.simulate(trace, p, capacity=c, ways=w, prefetcher=f).counts
                  for p, c, w, f in {cases}]))
"""


def test_debug_switch_runs_python_with_the_same_counts():
    env = {**os.environ, "RECSIM_DEBUG": "1"}
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(cases=CASES)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    trace = recsim.Trace.from_arrays(np.zeros(80, np.int32), (np.arange(80) * 7) % 11)
    compiled = [recsim.simulate(trace, p, capacity=c, ways=w, prefetcher=f).counts
                for p, c, w, f in CASES]
    assert json.loads(out.stdout) == compiled
