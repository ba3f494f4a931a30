"""Oracle: on a demand miss, prefetch the next ``n`` distinct non-resident vectors that the
trace uses within the next ``window`` accesses.

A reference rather than a realisable design: it reads the trace ahead of the current
access and names, in order of next use, the first ``n`` distinct vectors that are not in
the buffer. Fires on demand misses only.

Defaults ``n=1, window=1``: prefetch the vector of the next access when it is not
resident. That prefetch takes the slot the next access's demand miss would have taken
(same victim, the vector inserted as most recent one access early, every prefetch
allocating its slot when issued), so the replacement state of LRU is exactly the state
without the prefetch and LRU's hit rate is never lowered (a hypothesis property, which
also checks the final buffer contents are the same). Larger ``n`` or ``window`` read
further ahead and cover more misses, but their early fills can evict vectors used before
them, so they can lower the hit rate.
"""

from collections import namedtuple


from recsim.plugin import Int, Prefetcher, hook, is_hit


State = namedtuple("State", "vids n window")  # the trace's vids; the parameters


def make_state(ctx, params):
    return State(ctx.vids, params["n"], params["window"])


@hook
def on_access(state, vid, table, outcome, t, slot_of, out):
    vids = state.vids
    if is_hit(outcome):
        return 0
    want = min(state.n, out.shape[0])
    end = min(vids.shape[0], t + 1 + state.window)
    m = 0
    for j in range(t + 1, end):
        v = vids[j]
        if slot_of[v] >= 0 or v == vid:
            continue
        dup = False
        for i in range(m):
            if out[i] == v:
                dup = True
                break
        if not dup:
            out[m] = v
            m += 1
            if m == want:
                break
    return m


PREFETCHER = Prefetcher("oracle", "on a miss, prefetch the next n non-resident vectors used "
                        "within window accesses (a reference)", make_state,
                        on_access=on_access,
                        params={"n": Int(1, lo=1, help="vectors prefetched per miss"),
                                "window": Int(1, lo=1, unit="accesses",
                                              help="accesses looked ahead")})
