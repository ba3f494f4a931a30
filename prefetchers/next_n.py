"""Next-N: on a trigger, prefetch the next ``n`` rows of the same table.

The classic next-N-line prefetcher (Smith, "Sequential program prefetching in memory
hierarchies", IEEE Computer 1978), with a table's rows playing the role of cache lines.
``trigger='miss'`` (default) fires on demand misses, ``'access'`` on every access.

Candidates are mapped to dense vector ids; rows that never occur in the trace have no id
and are not simulated (they could only pollute the buffer), so this prefetcher's
pollution is a lower bound. In a sampled replay the rows of the range that are vectors of
the full trace but not of the sample are dropped and counted
(:func:`recsim.plugin.unsampled_in_range`).
"""

from collections import namedtuple


from recsim.plugin import (QUEUE_SIZE, Choice, Int, Prefetcher, hook, is_hit,
                           unsampled_in_range)


# the trace's keys; per table its past-the-end key; the parameters (trigger 'access':
# every_access); a sampled replay's count of candidates outside the sample (else None)
State = namedtuple("State", "keys table_end n every_access unsampled")


def make_state(ctx, params):
    table_end = ctx.trace.table_base + ctx.trace.table_rows
    return State(ctx.keys, table_end, params["n"], params["trigger"] == "access",
                 ctx.unsampled)


@hook
def on_access(state, vid, table, outcome, t, slot_of, out):
    keys = state.keys
    if is_hit(outcome) and not state.every_access:
        return 0
    limit = min(keys[vid] + state.n, state.table_end[table] - 1)
    m = 0
    w = vid + 1
    while w < keys.shape[0] and keys[w] <= limit and m < out.shape[0]:
        out[m] = w
        m += 1
        w += 1
    unsampled_in_range(state.unsampled, keys[vid], limit, m, t)
    return m


PREFETCHER = Prefetcher("next_n", "prefetch the next n rows of the same table", make_state,
                        on_access=on_access,
                        params={"n": Int(4, lo=1, hi=QUEUE_SIZE,
                                             help="rows prefetched after the trigger's"),
                                "trigger": Choice("miss", ("miss", "access"),
                                                  help="which demand accesses prefetch")})
