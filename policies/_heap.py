"""Indexed 4-ary max-heaps over buffer slots, one heap per cache set, for Numba policies.

The heap of set ``s`` occupies positions ``base .. base + size[s] - 1`` with
``base = s * ways``: ``hkey[i]`` is the priority and ``hslot[i]`` the slot at position
``i``, and ``pos[slot]`` is the slot's position relative to ``base``. Keys live inside the
heap arrays, so sifting touches contiguous memory rather than chasing ``key[slot]``.
Push, increase and remove are O(log ways); the maximum is at position ``base``. Four
children per node halve the depth of a binary heap, and a node's children share a cache
line of keys: fewer cache misses per sift, which is what a large fully associative
buffer pays for.
"""

from recsim.plugin import hook


@hook
def _sift_up(hkey, hslot, pos, base, i, k, slot):
    while i > 0:
        parent = (i - 1) >> 2
        if hkey[base + parent] >= k:
            break
        up = hslot[base + parent]
        hkey[base + i] = hkey[base + parent]
        hslot[base + i] = up
        pos[up] = i
        i = parent
    hkey[base + i] = k
    hslot[base + i] = slot
    pos[slot] = i


@hook
def _sift_down(hkey, hslot, pos, base, size, i, k, slot):
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        child = first
        for c in range(first + 1, min(first + 4, size)):
            if hkey[base + c] > hkey[base + child]:
                child = c
        if hkey[base + child] <= k:
            break
        down = hslot[base + child]
        hkey[base + i] = hkey[base + child]
        hslot[base + i] = down
        pos[down] = i
        i = child
    hkey[base + i] = k
    hslot[base + i] = slot
    pos[slot] = i


@hook
def push(hkey, hslot, pos, size, s, base, slot, k):
    i = size[s]
    size[s] = i + 1
    _sift_up(hkey, hslot, pos, base, i, k, slot)


@hook
def increase(hkey, hslot, pos, base, slot, k):
    """Raise ``slot``'s key to ``k`` (``k`` must not be below its current key)."""
    _sift_up(hkey, hslot, pos, base, pos[slot], k, slot)


@hook
def remove(hkey, hslot, pos, size, s, base, slot):
    i = pos[slot]
    last = size[s] - 1
    size[s] = last
    if i == last:
        return
    k = hkey[base + last]
    moved = hslot[base + last]
    if i > 0 and hkey[base + ((i - 1) >> 2)] < k:
        _sift_up(hkey, hslot, pos, base, i, k, moved)
    else:
        _sift_down(hkey, hslot, pos, base, last, i, k, moved)
