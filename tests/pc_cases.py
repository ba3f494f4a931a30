"""Shared test cases for the policies that use the table id as a PC (Hawkeye, Mockingjay):
traces with several tables, the engine-against-reference check, a hypothesis strategy."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import recsim
from recsim.traces.trace import Trace
from reference import reference_replay

# (seed, accesses, tables, rows per table)
TRACES = {"a": (1, 6000, 3, 400), "b": (2, 12000, 5, 900)}


def pc_trace(seed, n, n_tables, rows, alpha=1.2):
    """Zipf rows over a few tables, 30% uniform scans, random batch cuts."""
    rng = np.random.default_rng(seed)
    table = rng.integers(0, n_tables, n)
    row = (rng.zipf(alpha, n) - 1) % rows
    row = np.where(rng.random(n) < 0.3, rng.integers(0, rows, n), row)  # some scans
    cuts = np.unique(np.concatenate(([0, n], rng.integers(0, n, n // 50))))
    return Trace.from_arrays(table, row, batch_offsets=cuts)


def check(policy, trace, capacity, ways, **kw):
    """The engine's counts and residents equal the reference model's; returns the result."""
    res = recsim.simulate(trace, policy, capacity=capacity, ways=ways, **kw)
    ref = reference_replay(trace, policy, capacity, ways, **kw)
    assert res.counts == ref.counts
    assert res.resident.tolist() == ref.resident
    return res


@st.composite
def tiny_case(draw, small_params):
    """A tiny random trace, geometry and options; ``small_params`` (policy parameters that
    shrink its structures) is used half of the time."""
    n = draw(st.integers(1, 150))
    n_tables = draw(st.integers(1, 4))
    n_rows = draw(st.integers(1, 30))
    table = draw(st.lists(st.integers(0, n_tables - 1), min_size=n, max_size=n))
    row = draw(st.lists(st.integers(0, n_rows - 1), min_size=n, max_size=n))
    trace = Trace.from_arrays(table, row)
    capacity = draw(st.integers(1, 24))
    ways = draw(st.sampled_from([0, 2, 4, 32]))
    kw = {}
    if draw(st.booleans()):
        kw = dict(prefetcher="next_n", prefetcher_params={"n": draw(st.integers(1, 3))},
                  prefetch_latency=draw(st.integers(0, 2)))
    if draw(st.booleans()):
        kw["policy_params"] = small_params
    return trace, capacity, ways, kw
