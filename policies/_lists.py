"""Intrusive doubly-linked lists over integer nodes, for Numba policy state.

Many lists share one ``prev``/``nxt`` pair of arrays indexed by node (a buffer slot, say)
and one ``head``/``tail`` pair indexed by list id (a cache set, an LFU frequency node).
Every operation is O(1); ``-1`` means "none".
"""

from recsim.plugin import hook


@hook
def push_front(prev, nxt, head, tail, lst, node):
    first = head[lst]
    prev[node] = -1
    nxt[node] = first
    if first >= 0:
        prev[first] = node
    else:
        tail[lst] = node
    head[lst] = node


@hook
def push_back(prev, nxt, head, tail, lst, node):
    last = tail[lst]
    nxt[node] = -1
    prev[node] = last
    if last >= 0:
        nxt[last] = node
    else:
        head[lst] = node
    tail[lst] = node


@hook
def insert_after(prev, nxt, head, tail, lst, after, node):
    follow = nxt[after]
    prev[node] = after
    nxt[node] = follow
    nxt[after] = node
    if follow >= 0:
        prev[follow] = node
    else:
        tail[lst] = node


@hook
def unlink(prev, nxt, head, tail, lst, node):
    p = prev[node]
    n = nxt[node]
    if p >= 0:
        nxt[p] = n
    else:
        head[lst] = n
    if n >= 0:
        prev[n] = p
    else:
        tail[lst] = p
