"""recsim: trace-driven simulation of the GPU embedding buffer of DLRM inference.

``RECSIM_DEBUG=1`` in the environment (before Python starts) turns Numba's compiler off,
so replays run the same loop and hooks as plain Python that pdb can step through: slow,
for small traces (docs/write-a-policy.md).
"""

import os

if os.environ.get("RECSIM_DEBUG", "0") not in ("", "0"):
    os.environ["NUMBA_DISABLE_JIT"] = "1"  # read when numba is first imported, just below

from recsim.errors import ConfigError  # noqa: E402, RecsimError, TraceFormatError
from recsim.traces import Trace, load_trace, save_trace  # noqa: E402

__version__ = "0.1.0"


def simulate(*args, **kwargs):
    """Replay a trace; see :func:`recsim.engine.replay.simulate`."""
    from recsim.engine.replay import simulate as _simulate

    return _simulate(*args, **kwargs)


__all__ = ["Trace", "load_trace", "save_trace", "simulate", "RecsimError", "TraceFormatError",
           "ConfigError", "__version__"]
