"""LFU: evict the least frequently used vector; ties go to the one that reached its count first.

Reference: libCacheSim ``cache/eviction/LFU.c``. Counts exist only while a vector is
resident (1 on insert, prefetch fills included); the victim is the lowest count, and among
equal counts the vector that reached that count first (FIFO within a count bucket).

O(1) per operation at any associativity (Shah, Mitra and Matani, "An O(1) algorithm for
implementing the LFU cache eviction scheme", 2010): each set keeps an ascending list of
frequency nodes, each node a FIFO list of the slots at that count. Nodes come from a pool
of ``capacity + sets`` (never more than one per resident vector, plus one per set in
transit) and are recycled through a free stack.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook
from recsim.policies._lists import insert_after, push_back, push_front, unlink


# per slot: its count's node and its links in that node's FIFO; per node (a count present in
# a set): the count, links in the set's list of counts (lowest first), and the oldest and
# newest slot at that count; per set: its lowest and highest count's node; the pool of free
# nodes and their number
State = namedtuple("State", "item_node item_prev item_next node_freq node_prev node_next "
                            "node_head node_tail set_head set_tail free n_free")


def make_state(ctx, params):
    cap, sets = ctx.capacity, ctx.sets
    pool = cap + sets
    item_node = np.full(cap, -1, dtype=np.int64)
    item_prev = np.full(cap, -1, dtype=np.int64)
    item_next = np.full(cap, -1, dtype=np.int64)
    node_freq = np.zeros(pool, dtype=np.int64)
    node_prev = np.full(pool, -1, dtype=np.int64)
    node_next = np.full(pool, -1, dtype=np.int64)
    node_head = np.full(pool, -1, dtype=np.int64)  # oldest slot at this count
    node_tail = np.full(pool, -1, dtype=np.int64)
    set_head = np.full(sets, -1, dtype=np.int64)  # lowest-count node of the set
    set_tail = np.full(sets, -1, dtype=np.int64)
    free = np.arange(pool, dtype=np.int64)
    n_free = np.array([pool], dtype=np.int64)
    return State(item_node, item_prev, item_next, node_freq, node_prev, node_next, node_head,
                 node_tail, set_head, set_tail, free, n_free)


@hook
def _new_node(state, freq):
    node_freq, free, n_free = state.node_freq, state.free, state.n_free
    n_free[0] -= 1
    node = free[n_free[0]]
    node_freq[node] = freq
    state.node_head[node] = -1
    state.node_tail[node] = -1
    return node


@hook
def _leave(state, set_, slot):
    """Take ``slot`` out of its count node, dropping the node if it empties."""
    item_node, item_prev, item_next = state.item_node, state.item_prev, state.item_next
    node = item_node[slot]
    unlink(item_prev, item_next, state.node_head, state.node_tail, node, slot)
    if state.node_head[node] < 0:
        unlink(state.node_prev, state.node_next, state.set_head, state.set_tail, set_, node)
        state.free[state.n_free[0]] = node
        state.n_free[0] += 1


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    node_freq, set_head = state.node_freq, state.set_head
    node = set_head[set_]
    if node < 0 or node_freq[node] != 1:
        node = _new_node(state, 1)
        push_front(state.node_prev, state.node_next, set_head, state.set_tail, set_, node)
    push_back(state.item_prev, state.item_next, state.node_head, state.node_tail, node, slot)
    state.item_node[slot] = node


@hook
def on_hit(state, set_, slot, vid, t, prio):
    item_node, node_freq, node_next = state.item_node, state.node_freq, state.node_next
    node = item_node[slot]
    freq = node_freq[node] + 1
    up = node_next[node]
    if up < 0 or node_freq[up] != freq:
        up = _new_node(state, freq)
        insert_after(state.node_prev, node_next, state.set_head, state.set_tail, set_, node, up)
    _leave(state, set_, slot)
    push_back(state.item_prev, state.item_next, state.node_head, state.node_tail, up, slot)
    item_node[slot] = up


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    return state.node_head[state.set_head[set_]]


@hook
def on_evict(state, set_, slot, vid, t):
    _leave(state, set_, slot)


POLICY = Policy("lfu", "least frequently used, FIFO among equal counts (libCacheSim LFU)",
                make_state, victim, on_hit=on_hit, on_fill=on_fill, on_evict=on_evict)
