"""Berti (prefetchers/berti.py): the rules of ChampSim 063ca7d5 ``prefetcher/berti``.

* Timeliness, on one table walked with a constant row delta ``d`` and fetch latency
  ``L`` (all misses): the miss at ``t`` trains when it arrives, at ``t + L``, on the
  history of that moment (accesses ``t+L-16 .. t+L-1``), of which those at ``<= t - L``
  are timely: the deltas ``k*d`` for ``k`` in ``[L, 16 - L]``. The first training is the
  miss at ``t = L`` (at access ``2L``); the 16th, at access ``2L + 15``, classifies the
  confidences of the first 15 (``k*d``: ``15 - (k - L)``, capped by how many trainings saw
  it) and only then prefetches. Deltas shorter than ``L*d`` are never learned.
* ``fetch_latency = 0`` still trains (the reference would not); with ``2L > 16`` the
  history at the fill holds nothing timely and Berti never starts.
* History search order and its stop at the trained address; confidence classes at
  > 10 / > 8 / > 6; delta replacement (least class then confidence, only a class none or
  L2R slot is replaced); issue order (L1, L2, L2R, then ``|delta|``) and
  ``issue_lower``; the 64-entry FIFO of IPs; merged misses, prefetch hits (latency =
  prefetch latency) and late prefetches (trained from the prefetch's issue time).
* Through the engine: exact counts on the constant-delta walk; a hypothesis test of the
  accounting identities.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.errors import ConfigError
from recsim.plugin import LATE_PREFETCH, MISS, PREFETCH_HIT
from recsim.prefetchers import berti
from recsim.prefetchers.berti import L1, L2, L2R, NONE
from recsim.registry import resolve_params
from recsim.traces import Trace


def _ctx(rows, card, fetch_latency, prefetch_latency=None, tables=None):
    tables = np.zeros(len(rows), np.int32) if tables is None else np.asarray(tables, np.int32)
    trace = Trace.from_arrays(tables, np.asarray(rows, np.int64), cardinalities=card)
    dense = trace.dense()
    return SimpleNamespace(trace=trace, keys=dense.keys, vids=dense.vid, n_vids=dense.n_unique,
                           fetch_latency=fetch_latency, unsampled=None,
                           prefetch_latency=(fetch_latency if prefetch_latency is None
                                             else prefetch_latency))


def _state(ctx, issue_lower=False):
    return berti.make_state(ctx, resolve_params("prefetcher", berti.PREFETCHER,
                                                {"issue_lower": issue_lower}))


def _unpack(state):
    ips, entries, slots = state.ips, state.entries, state.slots
    return SimpleNamespace(ips=ips, history=state.history, entries=entries, slots=slots,
                           issue=state.issue, fetched=state.fetched, fills=state.fills,
                           found=state.found, regs=state.regs,
                           entry_of=ips[:, berti.ENTRY], ip_count=entries[:, berti.COUNT],
                           delta=slots[:, :, berti.DELTA], conf=slots[:, :, berti.CONF],
                           cls=slots[:, :, berti.CLASS], n_issue=entries[:, berti.N_ISSUE])


def _walk(d, steps, fetch_latency, issue_lower=False, n=64):
    """Table 0 with rows 0, d, 2d, ... (n vectors, vid = t); the first ``steps`` of them,
    each a miss, fed to the hook. Returns the state and the candidates of each access."""
    state = _state(_ctx(np.arange(n) * d, [n * d], fetch_latency), issue_lower)
    slot_of = np.full(n, -1, np.int64)
    out = np.zeros(1024, np.int64)
    cands = []
    for t in range(steps):
        m = berti.on_access(state, t, 0, MISS, t, slot_of, out)
        cands.append(out[:m].tolist())
    return state, cands


def _deltas(s, e):
    """{delta: (confidence, class)} of entry ``e``'s used slots."""
    return {int(d): (int(c), int(k)) for d, c, k in zip(s.delta[e], s.conf[e], s.cls[e]) if d}


# -- timeliness ------------------------------------------------------------------------------

def test_timely_deltas_are_learned_and_issued_after_16_trainings():
    # d = 2, L = 3: timely deltas k*2 for k in 3..13; 15 trainings by access 20.
    state, cands = _walk(2, 22, 3)
    assert all(c == [] for c in cands[:21])
    # at access 21 (the 16th training) the L1 deltas 6..14 (k = 3..7) prefetch rows
    # 42 + 6 .. 42 + 14, i.e. vids 24..28
    assert cands[21] == [24, 25, 26, 27, 28]
    s = _unpack(state)
    e = s.entry_of[0]
    assert e == 0 and s.ip_count[e] == 0
    # classes from the confidences 18 - k: k 3..7 -> 15..11 L1; 8, 9 -> 10, 9 L2;
    # 10, 11 -> 8, 7 L2R; 12, 13 -> 6, 5 none. The 16th training then adds each once.
    expect = {2 * k: (1, L1 if k <= 7 else L2 if k <= 9 else L2R if k <= 11 else NONE)
              for k in range(3, 14)}
    assert _deltas(s, e) == expect


def test_confidences_before_classification():
    state, cands = _walk(2, 21, 3)
    s = _unpack(state)
    e = s.entry_of[0]
    assert s.ip_count[e] == 15
    # deltas 2 and 4 (k = 1, 2) are shorter than the latency: never trained
    assert _deltas(s, e) == {2 * k: (18 - k, NONE) for k in range(3, 14)}
    assert s.n_issue[e] == 0


def test_zero_fetch_latency_trains():
    # L = 0: every earlier access is timely (k = 1..16); the 16th training is the miss
    # at t = 16, whose L1 deltas 3..15 (k = 1..5, confidence 15..11) prefetch vids 17..21.
    _, cands = _walk(3, 17, 0)
    assert all(c == [] for c in cands[:16])
    assert cands[16] == [17, 18, 19, 20, 21]


def test_history_at_the_fill_bounds_the_latency():
    # L = 8: only k = 8 is timely (t+L-16 = t-L); 16th training at access 31.
    _, cands = _walk(1, 40, 8)
    assert [t for t, c in enumerate(cands) if c][0] == 31
    assert cands[31] == [39]
    # L = 9: the 16 entries at the fill are all newer than t - L: Berti never trains
    state, cands = _walk(1, 64, 9)
    assert all(c == [] for c in cands)
    assert _unpack(state).entry_of[0] == -1


def test_issue_lower_issues_l2_and_l2r_after_l1():
    _, cands = _walk(2, 22, 3, issue_lower=True)
    # L1 k 3..7, then L2 k 8, 9, then L2R k 10, 11 (row 42 + 2k -> vid 21 + k)
    assert cands[21] == [24, 25, 26, 27, 28, 29, 30, 31, 32]


# -- rules on the tables ---------------------------------------------------------------------

def test_history_search_order_and_stop():
    s = _unpack(_state(_ctx(np.arange(4), [4], 0)))
    found = np.zeros(16, np.int64)

    def add(ip, addr, t):
        berti.history_add(s.history, s.regs, 0, ip, addr, t)

    def search(ip, addr, limit):
        """(any timely entry, the addresses of the near deltas in search order)"""
        timely, n = berti.timely_deltas(s.history, s.regs, 0, ip, addr, limit, found)
        return timely, (addr - found[:n]).tolist()

    for i in range(5):  # set 0: slots 0..4 written at times 0..4 by IP 0, addresses 10..14
        add(0, 10 + i, i)
    add(0, 14, 5)  # repeats the newest address: not recorded
    assert s.regs[berti.HIST_NEXT] == 5
    assert search(0, 99, 3) == (True, [13, 12, 11, 10])  # times <= 3, newest first
    assert search(0, 11, 4) == (True, [14, 13, 12])  # stops at the address being trained
    assert search(1, 99, 9) == (False, [])  # another IP's entries
    assert search(0, 10 + 4096, 9) == (True, [14, 13, 12, 11])  # |delta| < 4096 only
    assert search(0, 14 + 4096, 9) == (True, [])  # timely, but all too far
    for i in range(5, 17):  # wraps: slot 0 now holds 26, slot 1 (next) the oldest, 11
        add(0, 10 + i, i)
    assert s.regs[berti.HIST_NEXT] == 1 and s.history[0, 1, berti.ADDR] == 11
    assert search(0, 99, 16) == (True, [11, 26] + list(range(25, 11, -1)))  # oldest first
    assert search(0, 11, 16) == (False, [])


def test_too_far_deltas_still_count_a_training():
    # the IP's count goes up when an access was timely, even if its delta is >= 4096
    state = _state(_ctx([0, 1, 5000], [5001], 0))
    s = _unpack(state)
    slot_of, out = np.full(3, -1, np.int64), np.zeros(1024, np.int64)
    for t, vid in enumerate([0, 1]):
        berti.on_access(state, vid, 0, MISS, t, slot_of, out)
    e = s.entry_of[0]
    assert _deltas(s, e) == {1: (1, NONE)} and s.ip_count[e] == 1
    berti.on_access(state, 2, 0, MISS, 2, slot_of, out)  # deltas 5000, 4999: too far
    assert _deltas(s, e) == {1: (1, NONE)} and s.ip_count[e] == 2


def test_classification_thresholds_at_the_16th_training():
    s = _unpack(_state(_ctx(np.arange(4), [4], 0)))
    s.conf[0, :7] = [16, 11, 10, 9, 8, 7, 6]
    s.ip_count[0] = 14
    assert not berti.count_training(s.entries[0], s.slots[0])
    assert s.ip_count[0] == 15 and s.cls[0, :7].tolist() == [NONE] * 7
    assert berti.count_training(s.entries[0], s.slots[0])
    assert s.cls[0, :7].tolist() == [L1, L1, L2, L2, L2R, L2R, NONE]
    assert s.conf[0].tolist() == [0] * 16 and s.ip_count[0] == 0


def test_delta_confidence_saturates_and_free_slots_fill_in_order():
    s = _unpack(_state(_ctx(np.arange(4), [4], 0)))
    s.conf[0, 0], s.delta[0, 0], s.delta[0, 2] = 16, 5, 9
    berti.add_delta(s.slots[0], 5)
    assert s.conf[0, 0] == 16
    berti.add_delta(s.slots[0], -7)
    assert (s.delta[0, 1], s.conf[0, 1], s.cls[0, 1]) == (-7, 1, NONE)


def test_delta_replacement():
    s = _unpack(_state(_ctx(np.arange(4), [4], 0)))
    s.delta[0] = np.arange(1, 17)
    s.cls[0] = [L1, L2, L2R, L1, L1, NONE, L2R, L1, L2, L1, NONE, L1, L1, L1, L1, L1]
    s.conf[0] = [0, 0, 2, 5, 5, 4, 1, 5, 5, 5, 4, 5, 5, 5, 5, 5]
    # least key: class none before L2R before L1/L2 (whatever their confidence), then
    # confidence, then slot order: delta 6 (slot 5, none, 4) before delta 11 (slot 10)
    assert not berti.add_delta(s.slots[0], 100)
    assert s.delta[0, 5] == 100 and (s.conf[0, 5], s.cls[0, 5]) == (1, NONE)
    s.cls[0, 10] = L1
    # no none slot left but the new one (conf 1): it is replaced again
    berti.add_delta(s.slots[0], 200)
    assert s.delta[0, 5] == 200
    s.cls[0, 5] = L1
    # then the L2R slot of least confidence (delta 7, conf 1); True: it may be issued
    assert berti.add_delta(s.slots[0], 300)
    assert s.delta[0, 6] == 300 and s.cls[0, 6] == NONE
    s.cls[0] = [L1] * 8 + [L2] * 8  # only issued classes: nothing is replaced
    s.conf[0] = 16  # the highest keys
    before = s.slots[0].copy()
    assert not berti.add_delta(s.slots[0], 400)
    assert (s.slots[0] == before).all()


def test_issue_order():
    s = _unpack(_state(_ctx(np.arange(4), [4], 0)))
    s.delta[0, :6] = [5, -3, 2, 4, -1, 3]
    s.cls[0, :6] = [L2, L1, L2R, L1, NONE, L1]
    berti.issue_list(s.entries[0], s.slots[0], s.issue[0], False)
    assert s.issue[0, :s.n_issue[0]].tolist() == [-3, 3, 4]  # |delta| ties: slot order
    berti.issue_list(s.entries[0], s.slots[0], s.issue[0], True)
    assert s.issue[0, :s.n_issue[0]].tolist() == [-3, 3, 4, 5, 2]


def test_ip_entries_are_replaced_fifo():
    n = 65
    rows = np.zeros(2 * n, np.int64)
    rows[1::2] = 1
    state = _state(_ctx(rows, [2] * n, 0, tables=np.repeat(np.arange(n), 2)))
    s = _unpack(state)
    keys = state.keys
    for ip in range(n):  # each IP: access row 0, then train row 1 on it
        base = keys[2 * ip]
        berti.history_add(s.history, s.regs, s.ips[ip, berti.SET], ip, base, 0)
        berti.train(s.ips, s.history, s.entries, s.slots, s.issue, s.found, s.regs, ip,
                    base + 1, 1, 0)
    assert s.entry_of[0] == -1 and s.entry_of[64] == 0
    assert s.entry_of[1:64].tolist() == list(range(1, 64))
    assert s.entries[0, berti.IP] == 64 and _deltas(s, 0) == {1: (1, NONE)}
    assert s.ip_count[0] == 1


def test_merged_miss_does_not_queue_a_fill():
    state = _state(_ctx([5, 0, 5, 5], [8], 3))  # row 5 is vid 1
    s = _unpack(state)
    slot_of, out = np.full(2, -1, np.int64), np.zeros(1024, np.int64)
    berti.on_access(state, 1, 0, MISS, 0, slot_of, out)
    berti.on_access(state, 1, 0, MISS, 2, slot_of, out)  # the fetch of t=0 arrives at 3
    assert s.regs[berti.PENDING] == 1
    berti.on_access(state, 1, 0, MISS, 3, slot_of, out)  # arrived: a new fetch
    assert s.regs[berti.PENDING] == 1 and s.fills[s.regs[berti.HEAD], 2] == 3


def _history_then(outcome, prefetch_issued=None):
    """Misses on rows 0..5 at t = 0..5 (fetch latency 9: no fill arrives), then
    ``outcome`` on row 8 (vid 7) at t = 7 (prefetch latency 2); the deltas it trained."""
    state = _state(_ctx([0, 1, 2, 3, 4, 5, 6, 8], [10], 9, prefetch_latency=2))
    slot_of, out = np.full(8, -1, np.int64), np.zeros(1024, np.int64)
    for i in range(6):
        berti.on_access(state, i, 0, MISS, i, slot_of, out)
    if prefetch_issued is not None:
        _unpack(state).fetched[7] = 2 * prefetch_issued + 1
    berti.on_access(state, 7, 0, outcome, 7, slot_of, out)
    s = _unpack(state)
    return set(_deltas(s, s.entry_of[0]))


def test_prefetch_hit_trains_with_the_prefetch_latency():
    assert _history_then(PREFETCH_HIT) == {3, 4, 5, 6, 7, 8}  # times <= 7 - 2


def test_late_prefetch_trains_from_the_prefetch_issue_time():
    assert _history_then(LATE_PREFETCH, prefetch_issued=6) == {4, 5, 6, 7, 8}  # <= 6 - 2


# -- through the engine ----------------------------------------------------------------------

def test_engine_counts_on_a_constant_delta_walk():
    n = 60
    trace = Trace.from_arrays(np.zeros(n, np.int32), np.arange(n) * 2, cardinalities=[2 * n])
    r = recsim.simulate(trace, "lru", 100, 0, prefetcher="berti", fetch_latency=3,
                        prefetch_latency=3)
    # prefetches start at access 21 (vids 24..28, ready at 24): accesses 0..23 miss,
    # the rest are timely prefetch hits; no delta shorter than 3 rows is ever issued
    assert (r.on_demand_fetches, r.prefetch_hits, r.late_prefetches) == (24, n - 24, 0)
    assert (r.prefetches_issued, r.prefetches_useful, r.prefetches_unused) == (n - 24,) * 2 + (0,)
    r = recsim.simulate(trace, "lru", 100, 0, prefetcher="berti")
    assert (r.on_demand_fetches, r.prefetch_hits) == (17, n - 17)


def test_bad_parameter():
    trace = Trace.from_arrays([0, 0], [0, 1])
    with pytest.raises(ConfigError, match="prefetcher 'berti': parameter 'issue_lower'"):
        recsim.simulate(trace, "lru", 2, prefetcher="berti",
                        prefetcher_params={"issue_lower": 1})


@st.composite
def _traces(draw):
    n = draw(st.integers(1, 300))
    tables = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    step = draw(st.integers(1, 3))
    noise = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    rows = [(step * i + r) % 97 for i, r in enumerate(noise)]  # strided walks with noise
    return Trace.from_arrays(tables, rows)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=_traces(), capacity=st.integers(1, 40), ways=st.sampled_from([0, 2, 4]),
       fetch_latency=st.integers(0, 4), prefetch_latency=st.integers(0, 4),
       issue_lower=st.booleans())
def test_accounting_identities(trace, capacity, ways, fetch_latency, prefetch_latency,
                               issue_lower):
    r = recsim.simulate(trace, "lru", capacity, ways, prefetcher="berti",
                        prefetcher_params={"issue_lower": issue_lower},
                        fetch_latency=fetch_latency, prefetch_latency=prefetch_latency)
    assert r.hits + r.misses == trace.n_accesses
    assert r.prefetches_issued == (r.prefetches_useful + r.prefetches_unused
                                   + r.prefetches_pending)
