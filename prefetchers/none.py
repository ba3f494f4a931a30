"""No prefetching."""

from recsim.plugin import Prefetcher


def make_state(ctx, params):
    return ()


PREFETCHER = Prefetcher("none", "no prefetching", make_state)
