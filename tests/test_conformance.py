"""recsim.testing's named checks over every registered policy and prefetcher: a new plug-in
is checked with no test edit. Policies that replay whole batches in place of the
loop (``Policy.replay``: FBGEMM's cache, which takes only its own 32-way geometry, no
prefetcher and no chunks) are checked against FBGEMM's model in test_fbgemm_policies.py.
Learned prefetchers (an ``advise`` hook: they need a model checkpoint) are checked in
test_recmg_plugins.py; policies that learn online from the trace (``advise_always``:
``nextuse``) in their own test file."""

from recsim import registry
from recsim.testing import parametrize_with_checks

EXAMPLES = 12  # per plug-in and check; the suite's time budget (raise locally to search harder)


@parametrize_with_checks(
    policies=sorted(n for n, p in registry.policies().items() if p.replay is None
                    and not p.advise_always),
    prefetchers=sorted(n for n, p in registry.prefetchers().items() if not p.advise),
    max_examples=EXAMPLES)
def test_conforms(check):  # one test per (plug-in, named check): lru-chunked, ...
    check()
