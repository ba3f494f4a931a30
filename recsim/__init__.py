"""recsim: trace-driven simulation of the GPU embedding buffer of DLRM inference."""

from recsim.errors import ConfigError, RecsimError, TraceFormatError
from recsim.traces import Trace, load_trace, save_trace

__version__ = "0.1.0"


def simulate(*args, **kwargs):
    """Replay a trace; see :func:`recsim.engine.replay.simulate`."""
    from recsim.engine.replay import simulate as _simulate

    return _simulate(*args, **kwargs)


__all__ = ["Trace", "load_trace", "save_trace", "simulate", "RecsimError", "TraceFormatError",
           "ConfigError", "__version__"]
