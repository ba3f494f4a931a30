"""recsim.testing's conformance list over every registered policy and prefetcher: a new
plug-in is checked with no test edit."""

import pytest

from recsim import registry
from recsim.testing import check_policy, check_prefetcher

EXAMPLES = 12  # per plug-in; the suite's time budget (raise locally to search harder)


@pytest.mark.parametrize("name", sorted(registry.policies()))
def test_policy_conforms(name):
    check_policy(name, max_examples=EXAMPLES)


@pytest.mark.parametrize("name", sorted(registry.prefetchers()))
def test_prefetcher_conforms(name):
    check_prefetcher(name, max_examples=EXAMPLES)
