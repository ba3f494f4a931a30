"""The TorchRec/FBGEMM latency harness: requests, the tiered backend (exact lookups, exact
recsim LRU misses), FBGEMM's CPU-checkable parts, the latency fit and calibration."""

import json
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim import simulate
from recsim.cli import main
from recsim.errors import ConfigError
from recsim.experiments.latency import estimate_ms, fit, load_calibration
from recsim.harness.calibrate import (
    _time_one,
    calibrate,
    calibration_trace,
    make_model,
    timing_clock,
)
from recsim.harness.requests import (
    build_request,
    linearize,
    parse_miss_counter,
    parse_uvm_stats,
    trace_requests,
)
from recsim.harness.tiered import TieredEmbeddingBags
from recsim.traces import Trace
from recsim.traces.common import fixed_batches


def table_major(table, row, batch_size, cardinalities) -> Trace:
    """A trace whose batches are already in request (table-major) order."""
    batch = np.arange(len(table)) // batch_size
    order = np.lexsort((table, batch))
    return Trace.from_arrays(np.asarray(table)[order], np.asarray(row)[order],
                             fixed_batches(len(table), batch_size), cardinalities)


def test_request_is_table_major_with_even_bags():
    base = np.array([0, 64])
    r = build_request(np.array([1, 0, 1, 0, 0]), np.array([5, 6, 7, 8, 9]), base, 2)
    assert r.rows.tolist() == [6, 8, 9, 5, 7]
    assert r.keys.tolist() == [6, 8, 9, 69, 71]
    assert r.offsets.tolist() == [0, 2, 3, 4, 5]  # table 0: bags of 2 and 1; table 1: 1, 1
    empty = build_request(np.array([1]), np.array([3]), base, 3)
    assert empty.offsets.tolist() == [0, 0, 0, 0, 1, 1, 1]
    with pytest.raises(ConfigError, match="samples"):
        trace_requests(table_major([0], [0], 1, [1]), 0)


def test_request_offsets_equal_torchrec_keyed_jagged_tensor():
    jagged = pytest.importorskip("torchrec.sparse.jagged_tensor",
                                 reason="torchrec not installed (the torchrec extra)")
    rng = np.random.default_rng(0)
    table, row = rng.integers(0, 3, 500), rng.integers(0, 50, 500)
    r = build_request(table, row, np.array([0, 64, 128]), 16)
    kjt = jagged.KeyedJaggedTensor.from_lengths_sync(
        keys=["t0", "t1", "t2"], values=torch.from_numpy(r.rows),
        lengths=torch.from_numpy(np.diff(r.offsets)))
    assert kjt.offsets().tolist() == r.offsets.tolist()
    assert [kjt[k].values().tolist() for k in ("t0", "t1", "t2")] == [
        row[table == t].tolist() for t in range(3)]


def test_fbgemm_cpu_kernel_pools_requests_like_the_tiered_backend():
    """FBGEMM's real inference TBE (host tables on the CPU) on requests built from a
    trace gives the tiered backend's sums: the request layout is what FBGEMM expects."""
    inference = pytest.importorskip(
        "fbgemm_gpu.split_table_batched_embeddings_ops_inference",
        reason="fbgemm-gpu not installed (the torchrec extra)")
    from fbgemm_gpu.split_embedding_configs import SparseType
    from fbgemm_gpu.split_table_batched_embeddings_ops_common import EmbeddingLocation

    rng = np.random.default_rng(1)
    cards = [40, 100, 7]
    table = rng.integers(0, 3, 3000)
    row = rng.integers(0, 1000, 3000) % np.array(cards)[table]
    trace = table_major(table, row, 600, cards)
    tiered = TieredEmbeddingBags(trace.table_base, trace.key_space, 8, 30, 4, 12, 600,
                                 dense=False)
    tbe = inference.IntNBitTableBatchedEmbeddingBagsCodegen(
        [(f"t{t}", c, 8, SparseType.FP32, EmbeddingLocation.HOST) for t, c in enumerate(cards)],
        device="cpu", output_dtype=SparseType.FP32)
    tbe.initialize_weights()
    for t, (weights, _) in enumerate(tbe.split_embedding_weights()):
        base = int(trace.table_base[t])
        weights.copy_(tiered.host[base:base + cards[t]].view(torch.uint8).view(cards[t], -1))
    for request in trace_requests(trace, 12):
        out = tbe(torch.from_numpy(request.rows).int(), torch.from_numpy(request.offsets).int())
        expected = tiered(request)
        torch.testing.assert_close(out.view(12, 3, 8), expected, rtol=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_tiered_lookups_are_exact_and_its_misses_are_recsim_lru(data):
    cards = data.draw(st.lists(st.integers(1, 40), min_size=1, max_size=3))
    n = data.draw(st.integers(1, 300))
    table = np.array(data.draw(st.lists(st.integers(0, len(cards) - 1), min_size=n,
                                        max_size=n)))
    row = np.array(data.draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)))
    row %= np.array(cards)[table]
    batch_size = data.draw(st.integers(1, 64))
    samples = data.draw(st.integers(1, 5))
    capacity = data.draw(st.integers(1, 24))
    ways = data.draw(st.sampled_from([0, 1, 2, 4]))
    trace = table_major(table, row, batch_size, cards)
    model = TieredEmbeddingBags(trace.table_base, trace.key_space, 3, capacity, ways,
                                samples, batch_size, dense=False, seed=data.draw(
                                    st.integers(0, 9)))
    for request in trace_requests(trace, samples):
        assert torch.equal(model(request), model.reference(request))
    assert model.lookups == n
    assert model.misses == simulate(trace, "lru", capacity, ways).misses


def test_tiered_dense_head_gives_one_probability_per_sample():
    trace = table_major([0, 1, 1, 0], [1, 2, 3, 4], 4, [8, 8])
    model = TieredEmbeddingBags(trace.table_base, trace.key_space, 16, 2, 0, 2, 4)
    out = model(trace_requests(trace, 2)[0])
    assert out.shape == (2,) and ((out > 0) & (out < 1)).all()


def test_linearize_matches_fbgemm_cache_state():
    cache = pytest.importorskip("fbgemm_gpu.tbe.cache.cache_config",
                                reason="fbgemm-gpu not installed (the torchrec extra)")
    from fbgemm_gpu.split_table_batched_embeddings_ops_common import (
        EmbeddingLocation as L,
    )

    rows = [10, 20, 30]
    state = cache.CacheState.construct(rows, [L.MANAGED_CACHING, L.HOST, L.MANAGED_CACHING],
                                       [0, 1, 2])
    assert state.cache_hash_size_cumsum == [0, -1, 10, 40]
    r = build_request(np.array([0, 1, 2, 2, 0]), np.array([3, 4, 5, 6, 9]),
                      np.array([0, 64, 128]), 2)
    rows_in = r.rows.copy()
    rows_in[-1] = -1  # a pruned row
    got = linearize(rows_in, r.offsets, state.cache_hash_size_cumsum, 2)
    assert got.tolist() == [3, 9, 40, 15, 40]  # table 1 is not cached: the sentinel
    with pytest.raises(ConfigError, match="expected 3 tables x 3 samples"):
        linearize(rows_in, r.offsets, state.cache_hash_size_cumsum, 3)


def test_fbgemm_counters_by_name():
    c = parse_miss_counter(torch.tensor([3, 25, 80, 100]))
    assert c == {"forwards_with_misses": 3, "unique_misses": 25, "unique_accesses": 80,
                 "accesses": 100, "miss_rate": 0.25}
    assert parse_uvm_stats([1, 2, 3, 4, 5, 6])["conflict_unique_misses"] == 5
    with pytest.raises(ConfigError, match="expected 4 counters"):
        parse_miss_counter([1, 2])


def test_fbgemm_backend_says_what_it_needs():
    trace = calibration_trace(0.5, 1, tables=1, rows=100, samples=2, pooling=2, unique=50,
                              capacity=10)
    sizes = {"dim": 4, "capacity": 10, "samples": 2}
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the fbgemm backend would run")
    with pytest.raises(ConfigError, match="needs (FBGEMM|a CUDA GPU)"):
        make_model("fbgemm", trace, sizes, False, 0, "cpu")
    with pytest.raises(ConfigError, match="backend: expected 'tiered' or 'fbgemm'"):
        make_model("gpu", trace, sizes, False, 0, "cpu")


def test_fit_is_least_squares_with_its_quality():
    cal = fit([0.0, 0.5, 1.0], [0.001, 0.002, 0.003])
    assert cal["a"] == pytest.approx(0.001) and cal["b"] == pytest.approx(0.002)
    assert cal["r2"] == pytest.approx(1.0) and cal["rmse_s"] == pytest.approx(0, abs=1e-12)
    noisy = fit([0, 0, 1, 1], [1.0, 3.0, 3.0, 5.0])
    assert (noisy["a"], noisy["b"], noisy["rmse_s"]) == pytest.approx((2.0, 2.0, 1.0))
    assert noisy["r2"] == pytest.approx(0.5) and noisy["max_rel_error"] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="two or more points"):
        fit([0.5, 0.5], [1.0, 2.0])


@pytest.mark.parametrize("text, where", [
    ("{", "not a readable latency calibration"),
    ("[1, 2]", "expected a JSON object"),
    ('{"b": 1}', "field 'a': expected a number"),
    ('{"a": true, "b": 1}', "field 'a'"),
    ('{"a": 1, "b": "x"}', "field 'b'"),
])
def test_bad_calibration_files_are_one_error(tmp_path, text, where):
    path = tmp_path / "cal.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=where) as info:
        load_calibration(path)
    assert str(path) in str(info.value)
    assert estimate_ms({"a": 0.001, "b": 0.004}, 0.25) == pytest.approx(2.0)


def test_calibration_trace_hits_the_requested_rates_in_table_major_batches():
    trace = calibration_trace(0.6, 4, tables=3, rows=5000, samples=16, pooling=4,
                              unique=2000, capacity=400)
    assert trace.n_tables == 3 and trace.n_batches == 4
    for lo, hi in zip(trace.batch_offsets[:-1], trace.batch_offsets[1:]):
        assert (np.diff(trace.table[lo:hi]) >= 0).all()
    hit_rate = simulate(trace, "lru", 400, 0).hit_rate
    assert abs(hit_rate - trace.meta["provenance"]["lru_hit_rate"]) < 0.02


def test_calibrate_cli_fits_the_default_model_quickly(tmp_path, capsys):
    """The acceptance bar: 4 tables x 100k rows x dim 32, batch 256, on the CPU, in under
    2 minutes, R^2 >= 0.9 on the measured points."""
    threads = torch.get_num_threads()
    out = tmp_path / "cal" / "cpu.json"
    start = time.perf_counter()
    try:
        assert main(["calibrate", "-o", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert time.perf_counter() - start < 120
    cal = load_calibration(out)
    assert cal["r2"] >= 0.9 and cal["b"] > 0 and cal["backend"] == "tiered"
    assert cal["sizes"]["lookups_per_batch"] == 4 * 256 * 8 and cal["threads"] == 1
    assert cal["clock"] == "thread_cpu"
    assert cal["per_miss_s"] == pytest.approx(cal["b"] / 8192)
    rates = [p["miss_rate"] for p in cal["points"]]
    assert rates == sorted(rates, reverse=True) and rates[0] == 1.0 and rates[-1] < 0.1
    for p in cal["points"]:
        assert p["miss_rate"] == p["recsim_lru_miss_rate"]
        assert p["p10_s"] <= p["median_s"] <= p["p90_s"]
    assert {"torch", "numpy", "recsim"} <= set(cal["versions"])
    assert (out.with_suffix(".png")).stat().st_size > 5000
    assert out.with_suffix(".svg").read_text().startswith("<?xml")
    text = capsys.readouterr().out
    assert "R^2" in text and str(out) in text
    assert json.loads(out.read_text())["points"] == cal["points"]


def test_thread_clock_leaves_out_time_the_pass_does_not_run():
    """On one torch thread a pass is timed by its thread's CPU time, so a spell in which a
    busy machine runs something else (here: a sleep) is not counted; the wall clock counts
    it. With more threads the wall clock is the one used."""
    def pass_that_waits(request):
        time.sleep(0.05)

    assert _time_one(pass_that_waits, None, "thread_cpu") < 0.01
    assert _time_one(pass_that_waits, None, "wall") >= 0.05
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert timing_clock("cpu") == "thread_cpu"
        torch.set_num_threads(2)
        assert timing_clock("cpu") == "wall"
    finally:
        torch.set_num_threads(threads)


def test_calibrate_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="unknown size 'row'"):
        calibrate(row=5)
    with pytest.raises(ConfigError, match="batches >= 2"):
        calibrate(batches=1)
