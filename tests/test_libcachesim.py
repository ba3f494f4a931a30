"""Exact miss counts against libCacheSim's C++ replay (PyPI ``libcachesim``), fully
associative, unit-size objects: the same algorithm must give the same count."""

import libcachesim as lcs
import pytest

import recsim
from conftest import libcachesim_misses

ORACLES = {"lru": lcs.LRU, "lfu": lcs.LFU, "fifo": lcs.FIFO, "belady": lcs.Belady}


@pytest.mark.parametrize("policy", sorted(ORACLES))
@pytest.mark.parametrize("fraction", [0.01, 0.1])
def test_zipf_matches_libcachesim(zipf_1m, policy, fraction):
    trace, path = zipf_1m
    result = recsim.simulate(trace, policy, capacity=fraction, ways=0)
    assert result.misses == libcachesim_misses(path, ORACLES[policy], result.capacity,
                                             trace.n_accesses)


@pytest.mark.parametrize("policy", sorted(ORACLES))
@pytest.mark.parametrize("fraction", [0.02, 0.2])
def test_amazon_video_matches_libcachesim(amazon, policy, fraction):
    trace, path = amazon
    assert trace.n_tables == 2
    result = recsim.simulate(trace, policy, capacity=fraction, ways=0)
    assert result.misses == libcachesim_misses(path, ORACLES[policy], result.capacity,
                                             trace.n_accesses)
