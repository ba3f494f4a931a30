"""Berti: a local-delta prefetcher that learns, per IP, the deltas that are timely.

A. Navarro-Torres, B. Panda, J. Alastruey-Benedé, P. Ibáñez, V. Viñals-Yúfera, A. Ros,
"Berti: an Accurate Local-Delta Data Prefetcher", MICRO 2022. Reference implementation:
ChampSim (github.com/ChampSim/ChampSim) commit 063ca7d5ab57382eee4a66605971130ec2d18b2b,
``prefetcher/berti/berti.cc``, ``berti.h`` and ``berti_parameters.h`` (the sizes and
thresholds below are its defaults).

Adaptation: the IP (PC) is the table id, a cache line is one vector and its address is
the vector's global key (``table_base + row``); time is the access index.

Rules (as in the reference):

* History: 8 sets x 16 ways of (IP, address, time), a FIFO per set; the set is the low 3
  bits of the reference's IP hash ``ip ^ (ip >> 2) ^ (ip >> 5)``. Every demand miss and
  every first use of a prefetched vector is recorded, unless it repeats the set's newest
  address.
* Training ("find and update"), for a demand access of address ``a`` that missed at
  ``issue`` and waited ``latency``: the history entries of the same IP with
  ``time <= issue - latency`` (the accesses that could have prefetched ``a`` in time),
  searched from the slot the set writes next and then from the newest entry backwards,
  stopping at an entry for ``a`` itself. If there is one, the IP's count goes up by 1;
  each delta ``a - address`` with ``|delta| < 4096`` gets confidence +1 (at most 16). A
  new IP takes one of 64 entries (FIFO replacement) with count 1; a new delta takes a free
  one of the IP's 16 slots with confidence 1, else the first slot of least (class: none <
  L2R < L1 or L2, then confidence) is replaced if its class is none or L2R.
* Classification: when an IP's count reaches 16, each of its deltas becomes L1
  (confidence > 10), L2 (> 8), L2R (> 6) or none, and all confidences and the count
  restart at 0.
* Trigger: on every demand access (hit or miss), for the IP's deltas in order L1, L2,
  L2R, then smaller ``|delta|`` first (ties in slot order), prefetch ``address + delta``.

When training happens (the engine models a constant latency and has no fill event): a
demand miss at ``t`` is kept in a queue of pending fills and trains when it arrives, at
access ``t + fetch_latency`` (before that access is recorded), with
``latency = fetch_latency``, as the reference trains in its fill hook. So the history it
searches is the one at the fill, as in the hardware: a delta is learned only if the IP's
16-entry history set still holds, at ``t + fetch_latency``, an access made at
``t - fetch_latency`` or earlier. A first use of an arrived prefetch trains at once with
``latency = prefetch_latency`` (the reference stores each prefetch's fill latency in its
shadow cache); a first use of a prefetch still in flight (a late prefetch) is a demand
merged into the prefetch's miss, which the reference trains at the prefetch's fill with
``issue`` = the prefetch's issue time: here it trains at the access itself with that
issue time (the access's own if Berti did not issue that prefetch) and
``latency = prefetch_latency``. A demand miss on a vector whose demand
fetch or Berti prefetch is still in flight, by Berti's own record (the reference's
latency table), is merged and trains nothing.

Zero latency: the reference never trains on a fill whose measured latency is 0, so with
``fetch_latency = 0`` it would learn only from prefetch hits, and never start. Here a fill
with latency 0 trains like any other: every earlier history entry of the IP counts as
timely (a vector fetched at once is never late).

Lower level: the buffer is the only level, so by default only L1 deltas are issued
(``issue_lower=False``); ``issue_lower=True`` issues L2 and L2R deltas too, as ordinary
prefetches into the buffer (the reference fills them into L2 only).

Simplifications: the reference finds the slot to replace by sorting the 16 slots (a stable
sort at that size) and keeps them in that order; here the other slots stay in place, so
among slots of equal key the choice follows slot order rather than the order left by the
reference's previous sort (a tie-break only). Full keys and times (the reference keeps 24
address bits, 16 time bits and ignores latencies over 4095 cycles); IPs are told apart by
table id (the reference's 16-bit hash could merge two tables); 64 IP entries (the
reference's FIFO check lets a 65th in); no MSHR-occupancy throttle (the reference sends L1
deltas to L2 while its MSHR is 70% full). The reference's fallback that launches
mid-confidence deltas (conf > 14 / > 12 once an IP has 8 trainings) is left out: at
commit 063ca7d5 it cannot run, because the result vector it tests for emptiness starts
with 16 empty deltas. A candidate outside its own table is dropped (the reference may
cross pages). Candidates already resident are passed on and counted as redundant by the
engine (the reference skips those still in flight). A Berti prefetch that the engine then
drops (a prefetch budget, a bound on prefetches in flight) still counts as in flight for
the merge rule. Candidate keys that are not vectors of the trace have no vid and are
dropped, so this prefetcher's pollution is a lower bound.

Simulation state beyond the hardware tables: the queue of pending fills
(``fetch_latency + 1`` entries) and, when a latency is > 0, a fetch record per vector
(for the reference's latency table: the hook is not told which misses are merged). Speed:
the access's key is read from the trace in order (table base + row), and the fetch record
of the access 16 ahead is preloaded (a cache hint; it changes nothing).
"""

from collections import namedtuple

import numpy as np

from recsim.engine.preload import preload
from recsim.plugin import (HIT, LATE_PREFETCH, MISS, PREFETCH_HIT, Bool, Prefetcher, candidate_vid,
                          hook, readonly)

HISTORY_SETS = 8
HISTORY_WAYS = 16
IPS = 64  # Berti table entries (BERTI_TABLE_SIZE)
DELTAS = 16  # deltas per IP (BERTI_TABLE_DELTA_SIZE)
DELTA_LIMIT = 1 << 12  # |delta| < 4096 (DELTA_MASK)
CONF_MAX = 16  # CONFIDENCE_MAX: the IP count that classifies, and the cap of a delta's
CONF_L1, CONF_L2, CONF_L2R = 10, 8, 6

# Delta classes (the reference's BERTI_R, BERTI_L1, BERTI_L2, BERTI_L2R); L1 < L2 < L2R is
# also the issue order.
NONE, L1, L2, L2R = 0, 1, 2, 3

# Fields of the last axis of the packed tables.
LO, HI, SET, ENTRY = range(4)  # per IP (table): key range, history set, Berti entry
IP, ADDR, TIME = range(3)  # history entries
COUNT, N_ISSUE = 1, 2  # Berti entries: (IP, count, number of deltas to issue)
DELTA, CONF, CLASS = range(3)  # delta slots (DELTA 0: free)

# regs[]: fetch latency, prefetch latency, issue_lower, next Berti entry (FIFO), head and
# length of the queue of pending fills, then the slot each history set writes next.
FETCH_LAT, PREFETCH_LAT, ISSUE_LOWER, NEXT_ENTRY, HEAD, PENDING, HIST_NEXT = range(7)


def ip_set(tables):
    """History set of each IP: the reference's IP hash, low 3 bits."""
    tables = np.asarray(tables, np.int64)
    return (tables ^ (tables >> 2) ^ (tables >> 5)) & (HISTORY_SETS - 1)


# the trace's keys, vids and rows; per table (IP) its key range, history set and Berti
# entry; the history table; the Berti entries and their delta slots and deltas to issue; per
# vector its fetch record (2t+2 demand, 2t+1 prefetch); the pending demand fills (address,
# IP, issue time); scratch for the timely deltas; regs (FETCH_LAT ..)
State = namedtuple("State", "keys vids rows ips history entries slots issue fetched fills found "
                            "regs unsampled")


def make_state(ctx, params):
    issue_lower = params["issue_lower"]
    n_tables = ctx.trace.n_tables
    ips = np.empty((n_tables, 4), np.int64)
    ips[:, LO] = ctx.trace.table_base
    ips[:, HI] = ctx.trace.table_base + ctx.trace.table_rows
    ips[:, SET] = ip_set(np.arange(n_tables))
    ips[:, ENTRY] = -1
    history = np.zeros((HISTORY_SETS, HISTORY_WAYS, 3), np.int64)
    history[:, :, IP] = -1
    history[:, :, ADDR] = -1
    entries = np.zeros((IPS, 3), np.int64)
    entries[:, IP] = -1
    regs = np.zeros(HIST_NEXT + HISTORY_SETS, np.int64)
    regs[[FETCH_LAT, PREFETCH_LAT, ISSUE_LOWER]] = (ctx.fetch_latency, ctx.prefetch_latency,
                                                    issue_lower)
    queue = ctx.fetch_latency + 1  # at most one demand miss per access is pending
    tracked = ctx.n_vids if ctx.fetch_latency or ctx.prefetch_latency else 0
    return State(ctx.keys, ctx.vids, readonly(ctx.trace.key_rows()), ips, history, entries,
                 np.zeros((IPS, DELTAS, 3), np.int64),  # delta slots
                 np.zeros((IPS, DELTAS), np.int64),  # deltas to issue, in issue order
                 np.zeros(tracked, np.int64),  # fetch record: 2t+2 demand, 2t+1 prefetch
                 np.zeros((queue, 3), np.int64),  # pending demand fills: address, IP, issue time
                 np.zeros(HISTORY_WAYS, np.int64),  # scratch: timely deltas
                 regs, ctx.unsampled)


@hook
def history_add(history, regs, s, ip, addr, t):
    """Record (ip, addr, t) in set ``s`` unless the set's newest address is ``addr``."""
    p = regs[HIST_NEXT + s]
    newest = p - 1 if p > 0 else HISTORY_WAYS - 1
    if history[s, newest, ADDR] == addr:
        return
    history[s, p, IP] = ip
    history[s, p, ADDR] = addr
    history[s, p, TIME] = t
    regs[HIST_NEXT + s] = p + 1 if p + 1 < HISTORY_WAYS else 0


@hook
def timely_deltas(history, regs, s, ip, addr, limit, found):
    """The deltas from the accesses of set ``s`` recorded by ``ip`` at a time ``<= limit``
    to ``addr``, in the reference's search order (the slot written next, then newest to
    oldest), stopping at ``addr`` itself. Writes those with ``|delta| < DELTA_LIMIT``
    into ``found``; returns (whether any access was timely, how many deltas were
    written)."""
    timely = False
    n = 0
    p = regs[HIST_NEXT + s]
    for k in range(HISTORY_WAYS):
        i = (p - k) & (HISTORY_WAYS - 1)
        if history[s, i, IP] == ip and history[s, i, TIME] <= limit:
            d = addr - history[s, i, ADDR]
            if d == 0:
                break
            timely = True
            if abs(d) < DELTA_LIMIT:
                found[n] = d
                n += 1
    return timely, n


@hook
def _replacement_key(slots, j):
    """Replacement order: class none < L2R < issued (L1, L2), then lower confidence."""
    cls = slots[j, CLASS]
    rank = (cls != NONE) + (cls != NONE and cls != L2R)
    return rank * (CONF_MAX + 1) + slots[j, CONF]


@hook
def add_delta(slots, d):
    """Count delta ``d`` in one entry's slots (a free slot, else replacing the first slot
    of least replacement key if its class is none or L2R); returns True if it replaced an
    L2R delta (which may be in the issue list)."""
    free = -1
    for j in range(DELTAS):
        if slots[j, DELTA] == d:
            slots[j, CONF] = min(slots[j, CONF] + 1, CONF_MAX)
            return False
        if free < 0 and slots[j, DELTA] == 0:
            free = j
    if free < 0:
        best = 3 * (CONF_MAX + 1)  # above every key
        for j in range(DELTAS):
            key = _replacement_key(slots, j)
            if key < best:
                best, free = key, j
        if slots[free, CLASS] != NONE and slots[free, CLASS] != L2R:
            return False
    replaced = slots[free, CLASS] == L2R
    slots[free, DELTA], slots[free, CONF], slots[free, CLASS] = d, 1, NONE
    return replaced


@hook
def count_training(entry, slots):
    """One more training for an entry; at CONF_MAX classify its deltas and restart.
    Returns True if it classified."""
    entry[COUNT] += 1
    if entry[COUNT] != CONF_MAX:
        return False
    for j in range(DELTAS):
        c = slots[j, CONF]
        slots[j, CLASS] = L1 if c > CONF_L1 else (L2 if c > CONF_L2 else (
            L2R if c > CONF_L2R else NONE))
        slots[j, CONF] = 0
    entry[COUNT] = 0
    return True


@hook
def issue_list(entry, slots, issue, issue_lower):
    """An entry's deltas to issue: L1 (and L2, L2R if ``issue_lower``), in class order,
    then by ``|delta|``, ties in slot order."""
    n = 0
    for level in range(L1, (L2R if issue_lower else L1) + 1):
        start = n
        for j in range(DELTAS):
            d = slots[j, DELTA]
            if d != 0 and slots[j, CLASS] == level:
                i = n
                while i > start and abs(issue[i - 1]) > abs(d):
                    issue[i] = issue[i - 1]
                    i -= 1
                issue[i] = d
                n += 1
    entry[N_ISSUE] = n


@hook
def train(ips, history, entries, slots, issue, found, regs, ip, addr, issue_t, latency):
    """The reference's ``find_and_update`` for a demand access of ``addr`` by ``ip`` that
    missed at ``issue_t`` and waited ``latency``."""
    timely, n = timely_deltas(history, regs, ips[ip, SET], ip, addr, issue_t - latency, found)
    if not timely:
        return
    e = ips[ip, ENTRY]
    changed = count_training(entries[e], slots[e]) if e >= 0 else False
    for i in range(n):
        d = found[i]
        if e < 0:  # a new IP: take the oldest entry
            e = regs[NEXT_ENTRY]
            regs[NEXT_ENTRY] = e + 1 if e + 1 < IPS else 0
            if entries[e, IP] >= 0:
                ips[entries[e, IP], ENTRY] = -1
            ips[ip, ENTRY] = e
            entries[e, IP], entries[e, COUNT], entries[e, N_ISSUE] = ip, 1, 0
            slots[e, :, :] = 0
        changed |= add_delta(slots[e], d)
    if changed:
        issue_list(entries[e], slots[e], issue[e], regs[ISSUE_LOWER] != 0)


@hook
def _in_flight(record, t, fetch_latency, prefetch_latency):
    """Whether a fetch record (0: none, 2s+2: demand at s, 2s+1: prefetch at s) is still
    in flight at ``t``."""
    if record == 0:
        return False
    if record & 1:
        return (record - 1) // 2 + prefetch_latency > t
    return (record - 2) // 2 + fetch_latency > t


@hook
def on_access(state, vid, table, outcome, t, slot_of, out):
    keys, vids, rows, ips, history, entries, slots, issue, fetched, fills, found, regs = (
        state.keys, state.vids, state.rows, state.ips, state.history, state.entries, state.slots,
        state.issue, state.fetched, state.fills, state.found, state.regs)
    # fetch records are needed only when a fetch can be in flight at a later access
    track = regs[FETCH_LAT] > 0 or regs[PREFETCH_LAT] > 0
    if track and t + 16 < vids.shape[0]:
        preload(fetched, vids[t + 16])
    addr = ips[table, LO] + rows[t]  # keys[vid], read in trace order (no cache miss)
    if outcome == MISS:
        if not (track and _in_flight(fetched[vid], t, regs[FETCH_LAT], regs[PREFETCH_LAT])):
            if track:
                fetched[vid] = 2 * t + 2
            tail = regs[HEAD] + regs[PENDING]
            tail -= fills.shape[0] if tail >= fills.shape[0] else 0
            fills[tail, 0], fills[tail, 1], fills[tail, 2] = addr, table, t
            regs[PENDING] += 1
    # train on each demand fill that has arrived, then on a first use of a prefetch
    first_use = outcome == PREFETCH_HIT or outcome == LATE_PREFETCH
    while True:
        if regs[PENDING] > 0 and fills[regs[HEAD], 2] + regs[FETCH_LAT] <= t:
            h = regs[HEAD]
            ip, a, issued, latency = fills[h, 1], fills[h, 0], fills[h, 2], regs[FETCH_LAT]
            regs[HEAD] = h + 1 if h + 1 < fills.shape[0] else 0
            regs[PENDING] -= 1
        elif first_use:
            first_use = False
            ip, a, issued, latency = table, addr, t, regs[PREFETCH_LAT]
            if outcome == LATE_PREFETCH and fetched[vid] & 1:  # from the prefetch's issue
                issued = (fetched[vid] - 1) // 2
        else:
            break
        train(ips, history, entries, slots, issue, found, regs, ip, a, issued, latency)
    if outcome != HIT:
        history_add(history, regs, ips[table, SET], table, addr, t)
    e = ips[table, ENTRY]
    if e < 0 or entries[e, N_ISSUE] == 0:
        return 0
    m = 0
    for k in range(entries[e, N_ISSUE]):
        d = issue[e, k]
        target = addr + d
        if target < ips[table, LO] or target >= ips[table, HI]:
            continue
        w = candidate_vid(keys, vid, target, state.unsampled, t)
        if w >= 0:
            out[m] = w
            m += 1
            if track and slot_of[w] < 0:
                fetched[w] = 2 * t + 1
    return m


PREFETCHER = Prefetcher("berti", "per-table local deltas that are timely (Berti, MICRO 2022)",
                        make_state, on_access=on_access,
                        params={"issue_lower": Bool(False, help="also issue the L2 and L2R "
                                                    "deltas (the buffer is one level: L1)")})
