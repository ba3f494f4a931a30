"""Ghost rings (policies/_ghosts.py) against a list model: random pushes, ghost hits and pops
on two lists, with rings small enough to be compacted often."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim.policies._ghosts import ghost_tag, make_rings, pop_oldest, push, remove

N_VIDS, MAX_ENTRIES = 12, 3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["push", "hit", "pop"]), st.integers(0, 1),
                          st.integers(0, N_VIDS - 1)), max_size=80))
def test_rings_behave_as_fifo_lists_with_removal(ops):
    ring, ends, code, mask = make_rings(2, MAX_ENTRIES, N_VIDS)
    assert mask[0] + 1 == 8  # the power of two above 2 * 3 + 1
    model = [[], []]
    for op, lst, vid in ops:
        where = next((i for i, m in enumerate(model) if vid in m), -1)
        if op == "push" and where < 0:
            if len(model[lst]) == MAX_ENTRIES:  # as a policy does: drop the oldest first
                assert pop_oldest(ring, ends, code, mask, lst) == model[lst].pop(0)
            push(ring, ends, code, mask, lst, lst, vid)
            model[lst].append(vid)
        elif op == "hit" and where >= 0:
            remove(ring, code, mask, where, vid)
            model[where].remove(vid)
        elif op == "pop" and model[lst]:
            assert pop_oldest(ring, ends, code, mask, lst) == model[lst].pop(0)
        for v in range(N_VIDS):
            tag = next((i for i, m in enumerate(model) if v in m), -1)
            assert ghost_tag(code, v) == tag
        for i in range(2):  # the ring holds the list, in order, between its ends
            places = [ring[i * (mask[0] + 1) + (p & mask[0])]
                      for p in range(ends[2 * i], ends[2 * i + 1])]
            assert [v for v in places if v >= 0] == model[i]
            assert ends[2 * i + 1] - ends[2 * i] <= mask[0] + 1


def test_code_is_int32_unless_a_ring_is_too_wide():
    assert make_rings(1, 1000, 5)[2].dtype == np.int32
    assert make_rings(0, 2**30, 5)[2].dtype == np.int64  # (no list: nothing allocated)
