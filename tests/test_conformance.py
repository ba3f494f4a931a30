"""recsim.testing's conformance list over every registered policy and prefetcher: a new
plug-in is checked with no test edit. Policies that replay whole batches in place of the
loop (``Policy.replay``: FBGEMM's cache, which takes only its own 32-way geometry, no
prefetcher and no chunks) are checked against FBGEMM's model in test_fbgemm_policies.py.
Learned prefetchers (an ``advise`` hook: they need a model checkpoint) are checked in
test_recmg_plugins.py; policies that learn online from the trace (``advise_always``:
``nextuse``) in their own test file."""

import pytest

from recsim import registry
from recsim.testing import check_policy, check_prefetcher

EXAMPLES = 12  # per plug-in; the suite's time budget (raise locally to search harder)


@pytest.mark.parametrize("name", sorted(n for n, p in registry.policies().items()
                                        if p.replay is None and not p.advise_always))
def test_policy_conforms(name):
    check_policy(name, max_examples=EXAMPLES)


@pytest.mark.parametrize("name", sorted(n for n, p in registry.prefetchers().items()
                                        if not p.advise))
def test_prefetcher_conforms(name):
    check_prefetcher(name, max_examples=EXAMPLES)
