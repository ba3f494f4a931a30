"""Stride, the per-table stride prefetcher (prefetchers/stride.py).

Rules by hand, on a state from ``make_state`` driven through the ``on_access`` hook over
a trace in order (the hook reads the key of access ``t`` from the trace):

* a stride prefetches only once confirmed (seen twice in a row: ip_stride's
  ``stride == last_stride``), on hits as on misses; ``confirm`` and ``degree`` change
  that; repeating the last key breaks the run;
* candidates ``X + i * stride`` stop at the first one outside the page (64 keys) of the
  previous one, unless ``cross_pages``, and never leave the table (nor reach a vector of
  the next one); keys that are not vectors are skipped;
* each table has its own entry: interleaved tables with their own strides are each
  detected, and one table's accesses do not disturb another's run;
* rows without a repeated stride (random, or strictly growing strides) never prefetch.

Through the engine: exact counts on a stride-2 sequence, and a hypothesis test of the
accounting identities.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.engine.replay import ReplayContext
from recsim.errors import ConfigError
from recsim.plugin import HIT, MISS, PREFETCH_HIT, QUEUE_SIZE, defaults
from recsim.prefetchers import stride
from recsim.registry import resolve_params
from recsim.traces.trace import Trace


def _trace(rows, tables=None, cardinalities=None):
    tables = np.zeros(len(rows), np.int32) if tables is None else np.asarray(tables, np.int32)
    return Trace.from_arrays(tables, np.asarray(rows, np.int64), cardinalities=cardinalities)


def _rows(rows, table=0):
    return [(table, r) for r in rows]


def _run(accesses, extra=(), cardinalities=None, outcome=MISS, **params):
    """Drive the hook over a trace made of ``accesses`` then ``extra`` ((table, row) pairs;
    the extra ones are vectors that are not driven); the candidates of each access, as
    (table, row) pairs."""
    tables, rows = zip(*(list(accesses) + list(extra)))
    trace = _trace(rows, tables, cardinalities)
    d = trace.dense()
    ctx = ReplayContext(trace, d.vid, d.keys, 8, 1, 8)
    state = stride.make_state(ctx, resolve_params("prefetcher", stride.PREFETCHER, params))
    table_of = ctx.table_of_vid()
    out, slot_of, got = np.zeros(QUEUE_SIZE, np.int64), np.full(1, -1, np.int64), []
    for t in range(len(accesses)):
        n = stride.on_access(state, d.vid[t], tables[t], outcome, t, slot_of, out)
        got.append([(int(table_of[v]), int(d.keys[v] - trace.table_base[table_of[v]]))
                    for v in out[:n]])
    return got


def test_defaults():
    assert defaults(stride.PREFETCHER.params) == {"degree": 3, "confirm": 2, "cross_pages": False}


@pytest.mark.parametrize("outcome", [MISS, HIT, PREFETCH_HIT])
def test_prefetches_once_the_stride_is_confirmed(outcome):
    got = _run(_rows([0, 2, 4, 6]), _rows([8, 10, 12]), outcome=outcome)
    assert got == [[], [], _rows([6, 8, 10]), _rows([8, 10, 12])]


def test_repeated_key_breaks_the_run():
    got = _run(_rows([0, 2, 2, 4, 6]), _rows([8, 10, 12]))
    assert got == [[], [], [], [], _rows([8, 10, 12])]


def test_a_new_stride_restarts_confirmation():
    got = _run(_rows([0, 2, 4, 7, 10]), _rows([13, 16]))
    # 6 and 8 are not vectors; stride 3 is seen once at 7, confirmed at 10; 19 is absent
    assert got == [[], [], _rows([10]), [], _rows([13, 16])]


@pytest.mark.parametrize("confirm, first", [(1, 1), (2, 2), (3, 3)])
def test_confirm_is_the_number_of_times_the_stride_is_seen(confirm, first):
    got = _run(_rows([5, 6, 7, 8]), _rows([9]), confirm=confirm)
    assert [bool(c) for c in got] == [t >= first for t in range(4)]


def test_a_zero_stride_never_prefetches():
    assert _run(_rows([5, 5, 5]), _rows([6]), confirm=1) == [[], [], []]


def test_degree():
    assert _run(_rows([0, 1, 2]), _rows([3, 4]), degree=1)[-1] == _rows([3])


def test_skips_keys_that_are_not_vectors():
    assert _run(_rows([0, 3, 6]), _rows([12]))[-1] == _rows([12])  # 9 is absent


@pytest.mark.parametrize("rows, cross, expected", [
    ([0, 20, 40], False, [60]),  # 80 is in the next page
    ([0, 20, 40], True, [60, 80, 100]),
    ([127, 107, 87], False, [67]),  # 47 is in the previous page
    ([127, 107, 87], True, [67, 47, 27]),
])
def test_page_limit(rows, cross, expected):
    got = _run(_rows(rows), _rows([60, 80, 100, 67, 47, 27]), cross_pages=cross)
    assert got[-1] == _rows(expected)


def test_never_leaves_the_table():
    # table 0 has keys 0..127, table 1 starts at key 128: runs that left their table
    # would reach vectors of the other one (keys 140 and 118)
    seq = [(0, 60), (0, 80), (0, 100), (1, 30), (1, 20), (1, 10)]
    extra = [(0, 120), (1, 12), (1, 32), (1, 0), (0, 118), (0, 108)]
    assert _trace([0, 0], [0, 1], [128, 50]).table_base.tolist() == [0, 128]
    got = _run(seq, extra, cardinalities=[128, 50], cross_pages=True)
    assert got[2] == [(0, 120)] and got[5] == [(1, 0)]


def test_tables_are_independent():
    # interleaved: table 0 with stride 3, table 1 with stride 5, table 2 without a stride
    seq = [(0, 0), (1, 10), (2, 40), (0, 3), (1, 15), (2, 10), (0, 6), (1, 20), (2, 30),
           (0, 9), (1, 25)]
    extra = [(0, 12), (0, 15), (1, 30), (1, 35), (1, 40)]
    assert _run(seq, extra) == [[], [], [], [], [], [], [(0, 9), (0, 12), (0, 15)],
                                [(1, 25), (1, 30), (1, 35)], [], [(0, 12), (0, 15)],
                                [(1, 30), (1, 35), (1, 40)]]


def test_random_rows_never_prefetch():
    # random rows of one page in 3 tables, each redrawn while it would repeat its table's
    # last stride: nothing is ever confirmed, though most candidates would be vectors
    rng = np.random.default_rng(7)
    tables = rng.integers(0, 3, 2000)
    rows, last, last_stride = [], {}, {}
    for t in tables.tolist():
        row = int(rng.integers(0, 64))
        while t in last and row - last[t] == last_stride.get(t) and row != last[t]:
            row = int(rng.integers(0, 64))
        last_stride[t] = row - last[t] if t in last else None
        last[t] = row
        rows.append(row)
    res = recsim.simulate(_trace(rows, tables), "lru", 16, ways=0, prefetcher="stride")
    assert res.counts["prefetches_issued"] == res.counts["prefetches_redundant"] == 0


def test_growing_strides_never_prefetch():
    rows = np.cumsum(np.arange(40))  # strides 1, 2, 3, ...
    res = recsim.simulate(_trace(rows), "lru", 16, ways=0, prefetcher="stride",
                          prefetcher_params={"cross_pages": True})
    assert res.counts["prefetches_issued"] == res.counts["prefetches_redundant"] == 0


@pytest.mark.parametrize("params", [{"degree": 0}, {"degree": 2.0}, {"degree": QUEUE_SIZE + 1},
                                    {"confirm": 0}, {"confirm": True}, {"cross_pages": 1}])
def test_bad_parameters_are_config_errors(params):
    name = next(iter(params))
    with pytest.raises(ConfigError, match=f"prefetcher 'stride': parameter '{name}'"):
        _run([(0, 1)], **params)


def test_stride_2_through_the_engine():
    # keys 0, 2, .., 22 (one page). Access 2 (key 4) issues 6, 8, 10; accesses 3..8 each
    # issue key + 6 (12 .. 22) with 2 redundant candidates; access 9 (18): 20, 22
    # redundant, 24 absent; access 10 (20): 22 redundant. Keys 6..22 are prefetch hits.
    res = recsim.simulate(_trace(range(0, 24, 2)), "lru", 16, ways=0, prefetcher="stride")
    c = res.counts
    assert (c["prefetches_issued"], c["prefetch_hits"], c["prefetches_redundant"],
            c["on_demand_fetches"]) == (9, 9, 15, 3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3), st.integers(1, 4)),
                     min_size=1, max_size=60),
       capacity=st.integers(1, 40), latency=st.integers(0, 4))
def test_accounting_identities(data, capacity, latency):
    # runs of a constant stride per table, so that prefetches happen
    tables, rows, last = [], [], {0: 50, 1: 50}
    for table, step, length in data:
        for _ in range(length):
            last[table] = (last[table] + step) % 200
            tables.append(table)
            rows.append(last[table])
    res = recsim.simulate(_trace(rows, tables), "lru", capacity, ways=0, prefetcher="stride",
                          prefetch_latency=latency)
    c = res.counts
    assert res.hits + res.misses == c["accesses"] == len(rows)
    assert c["prefetches_issued"] == (c["prefetches_useful"] + c["prefetches_unused"]
                                      + c["prefetches_pending"])
