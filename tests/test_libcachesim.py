"""Exact miss counts against libCacheSim's C++ replay (PyPI ``libcachesim``), fully
associative, unit-size objects: the same algorithm must give the same count."""

import libcachesim as lcs
import pytest

import recsim
from recsim.traces import oracle_general, user_item, zipf

ORACLES = {"lru": lcs.LRU, "lfu": lcs.LFU, "fifo": lcs.FIFO, "belady": lcs.Belady}


@pytest.fixture(scope="module")
def zipf_1m(tmp_path_factory):
    trace = zipf.generate(1_000_000, tables=1, rows=200_000, alpha=0.9, seed=7)
    path = tmp_path_factory.mktemp("lcs") / "zipf.oracleGeneral"
    oracle_general.write(trace, path)
    return trace, path


@pytest.fixture(scope="module")
def amazon(real_data_dir, tmp_path_factory):
    trace = user_item.read(real_data_dir / "amazon_video_sasrec.txt")
    path = tmp_path_factory.mktemp("lcs") / "amazon.oracleGeneral"
    oracle_general.write(trace, path)
    return trace, path


def libcachesim_misses(path, policy, capacity, n):
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss_ratio, _ = ORACLES[policy](capacity).process_trace(reader)
    return round(miss_ratio * n)


@pytest.mark.parametrize("policy", sorted(ORACLES))
@pytest.mark.parametrize("fraction", [0.01, 0.1])
def test_zipf_matches_libcachesim(zipf_1m, policy, fraction):
    trace, path = zipf_1m
    result = recsim.simulate(trace, policy, capacity=fraction, ways=0)
    assert result.misses == libcachesim_misses(path, policy, result.capacity, trace.n_accesses)


@pytest.mark.parametrize("policy", sorted(ORACLES))
@pytest.mark.parametrize("fraction", [0.02, 0.2])
def test_amazon_video_matches_libcachesim(amazon, policy, fraction):
    trace, path = amazon
    assert trace.n_tables == 2
    result = recsim.simulate(trace, policy, capacity=fraction, ways=0)
    assert result.misses == libcachesim_misses(path, policy, result.capacity, trace.n_accesses)
