"""Ghost lists for Numba policy state: FIFO lists of vids (vectors recently evicted) that
only ever gain an entry at their new end, lose one at their old end, or lose one anywhere
when a ghost is hit (ARC's B1 and B2, S3-FIFO's ghost queue).

Each list is a ring of ``width`` places (a power of two) holding vids, -1 where a ghost
hit left a hole; ``ends[2 * lst]`` is the absolute place of its oldest entry (or hole) and
``ends[2 * lst + 1]`` the next place to fill. One integer per vid, ``code``, is 0 when the
vid is in no list, else ``1 + tag + 2 * (place mod width)`` (``tag`` 0 or 1, the caller's
name for the list), so the ghost check is one load and a push writes nothing else per vid.
A ring whose places are all taken (entries and holes) is compacted, so ``width`` must
exceed twice the entries a list ever holds: amortised O(1) per operation.

Why not doubly-linked lists over vids: they cost five or six random loads and stores of
16 bytes a vid per miss, where the rings cost one load and one or two stores of 4 bytes
(ARC, 32-way benchmark: 25.8 -> 29-30.5 M accesses/s).
"""

import numpy as np

from recsim.plugin import hook


def make_rings(lists: int, max_entries: int, n_vids: int):
    """``(ring, ends, code, mask)`` for ``lists`` empty ghost lists of at most
    ``max_entries`` entries each, over ``n_vids`` vids."""
    width = 1 << (2 * max_entries + 1).bit_length()
    code = np.zeros(n_vids, dtype=np.int32 if 2 * width + 2 < 2**31 else np.int64)
    return (np.full(lists * width, -1, dtype=np.int64), np.zeros(2 * lists, dtype=np.int64),
            code, np.array([width - 1], dtype=np.int64))


@hook
def _at(mask, lst, place):
    return lst * (mask[0] + 1) + (place & mask[0])


@hook
def ghost_tag(code, vid):
    """The tag of the list ``vid`` is a ghost in, or -1."""
    return ((code[vid] - 1) & 1) if code[vid] > 0 else -1


@hook
def push(ring, ends, code, mask, lst, tag, vid):
    """Append ``vid`` to list ``lst`` (called ``tag``)."""
    if ends[2 * lst + 1] - ends[2 * lst] > mask[0]:  # all places taken: compact
        to = ends[2 * lst]
        for place in range(ends[2 * lst], ends[2 * lst + 1]):
            v = ring[_at(mask, lst, place)]
            if v >= 0:
                ring[_at(mask, lst, to)] = v
                code[v] = 1 + tag + 2 * (to & mask[0])
                to += 1
        for place in range(to, ends[2 * lst + 1]):
            ring[_at(mask, lst, place)] = -1
        ends[2 * lst + 1] = to
    place = ends[2 * lst + 1]
    ring[_at(mask, lst, place)] = vid
    code[vid] = 1 + tag + 2 * (place & mask[0])
    ends[2 * lst + 1] = place + 1


@hook
def remove(ring, code, mask, lst, vid):
    """Take the ghost ``vid`` out of its list ``lst``, leaving a hole."""
    ring[_at(mask, lst, (code[vid] - 1) >> 1)] = -1
    code[vid] = 0


@hook
def pop_oldest(ring, ends, code, mask, lst):
    """Take the oldest entry out of the non-empty list ``lst``; returns its vid."""
    while ring[_at(mask, lst, ends[2 * lst])] < 0:  # skip the holes
        ends[2 * lst] += 1
    at = _at(mask, lst, ends[2 * lst])
    vid = ring[at]
    ring[at] = -1
    code[vid] = 0
    ends[2 * lst] += 1
    return vid


@hook
def push_bounded(ring, ends, code, mask, count, at, limit, lst, tag, vid):
    """Append ``vid`` to list ``lst`` whose length is ``count[at]``, dropping its oldest
    entry first when it holds ``limit``."""
    if count[at] >= limit:
        pop_oldest(ring, ends, code, mask, lst)
        count[at] -= 1
    push(ring, ends, code, mask, lst, tag, vid)
    count[at] += 1
