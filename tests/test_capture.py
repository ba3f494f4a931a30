"""Issue 30: recording a running model's lookups (recsim.capture), the TorchRec importers
(saved KeyedJaggedTensors, Criteo day_N_sparse.npy), table names and dims through stats,
simulate and plan, and the plan handed back to TorchRec's planner."""

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
torchrec = pytest.importorskip("torchrec")

from torchrec import (EmbeddingBagCollection, EmbeddingBagConfig,  # noqa: E402
                      EmbeddingCollection, EmbeddingConfig, KeyedJaggedTensor)
from torchrec.models.dlrm import DLRM  # noqa: E402

from recsim.capture import Capture  # noqa: E402
from recsim.cli import main  # noqa: E402
from recsim.engine.replay import simulate  # noqa: E402
from recsim.errors import ConfigError, TraceFormatError  # noqa: E402
from recsim.experiments.plan import plan, table_row_bytes  # noqa: E402
from recsim.traces import load_trace  # noqa: E402

ROWS = (100, 60, 40)


def ebc(dims=(8, 8, 8), rows=ROWS):
    return EmbeddingBagCollection(tables=[
        EmbeddingBagConfig(name=f"table_{t}", embedding_dim=d, num_embeddings=r,
                           feature_names=[f"f{t}"] + (["f_shared"] if t == 0 else []))
        for t, (d, r) in enumerate(zip(dims, rows))])


def random_kjts(n, batch=8, seed=0, keys=("f0", "f1", "f2", "f_shared"), rows=ROWS,
                zipf=None):
    """Random KJTs and the (table, row) lookups each holds, in order (feature-major):
    rows uniform, or Zipf(``zipf``) over a random permutation of each table's rows."""
    rng = np.random.default_rng(seed)
    table_of = {"f0": 0, "f1": 1, "f2": 2, "f_shared": 0}
    out = []
    for _ in range(n):
        lengths = rng.integers(0, 4, len(keys) * batch)
        values, lookups = [], []
        for k, key in enumerate(keys):
            count = int(lengths[k * batch:(k + 1) * batch].sum())
            ids = rng.integers(0, rows[table_of[key]], count) if zipf is None else \
                rng.permutation(rows[table_of[key]])[(rng.zipf(zipf, count) - 1)
                                                     % rows[table_of[key]]]
            values.append(ids)
            lookups += [(table_of[key], int(r)) for r in ids]
        kjt = KeyedJaggedTensor.from_lengths_sync(
            keys=list(keys), values=torch.tensor(np.concatenate(values)),
            lengths=torch.tensor(lengths))
        out.append((kjt, lookups))
    return out


def lookups_of(trace):
    return [[(int(t), int(r)) for t, r in zip(trace.table[a:b], trace.row[a:b])]
            for a, b in zip(trace.batch_offsets[:-1], trace.batch_offsets[1:])]


def test_capture_ebc_exact_and_equal_to_csv_replay(tmp_path):
    model, batches = ebc(), random_kjts(30)
    with Capture(model, tmp_path / "ebc.capture", chunk=50):
        for kjt, _ in batches:
            model(kjt)
    trace = load_trace(tmp_path / "ebc.capture")
    assert lookups_of(trace) == [lk for _, lk in batches]
    assert [t["name"] for t in trace.meta["table_info"]] == ["table_0", "table_1", "table_2"]
    assert trace.cardinalities.tolist() == list(ROWS)
    assert len(list((tmp_path / "ebc.capture").glob("part-*"))) > 1  # streamed
    with open(tmp_path / "same.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["table", "row", "batch"])
        w.writerows((t, r, b) for b, (_, lk) in enumerate(batches) for t, r in lk)
    from_csv = load_trace(tmp_path / "same.csv").with_cardinalities(list(ROWS), "test")
    for policy in ("lru", "srrip", "arc"):
        a, b = simulate(trace, policy, 40, 4), simulate(from_csv, policy, 40, 4)
        assert a.counts == b.counts


def test_capture_dlrm_and_embedding_collection(tmp_path):
    configs = [EmbeddingBagConfig(name=f"t{t}", embedding_dim=8, num_embeddings=r,
                                  feature_names=[f"f{t}"]) for t, r in enumerate(ROWS)]
    model = DLRM(embedding_bag_collection=EmbeddingBagCollection(tables=configs),
                 dense_in_features=4, dense_arch_layer_sizes=[8], over_arch_layer_sizes=[4, 1])
    batches = random_kjts(12, keys=("f0", "f1", "f2"))
    with Capture(model, tmp_path / "dlrm.capture", every=3):
        for kjt, _ in batches:
            model(torch.rand(8, 4), kjt)
    trace = load_trace(tmp_path / "dlrm.capture")
    assert lookups_of(trace) == [lk for _, lk in batches[::3]]
    assert [t["name"] for t in trace.meta["table_info"]] == ["t0", "t1", "t2"]
    assert trace.meta["provenance"]["captured_from"] == "DLRM"
    ec = EmbeddingCollection(tables=[EmbeddingConfig(name="item_ids", embedding_dim=4,
                                                     num_embeddings=100, feature_names=["f0"])])
    kjts = random_kjts(5, keys=("f0",))
    with Capture(ec, tmp_path / "ec.capture", max_lookups=7):
        for kjt, _ in kjts:
            ec(kjt)
    trace = load_trace(tmp_path / "ec.capture")
    assert sum(lookups_of(trace), []) == sum([lk for _, lk in kjts], [])[:7]
    assert trace.meta["table_info"] == [{"name": "item_ids", "dim": 4, "dtype": "fp32"}]


def test_capture_torch_modules_window_and_attach_detach(tmp_path):
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bag = torch.nn.EmbeddingBag(50, 4, mode="sum")
            self.emb = torch.nn.Embedding(30, 2).half()

        def forward(self, x, y):
            return self.bag(x, torch.tensor([0, 2])), self.emb(y)

    model = Model()
    cap = Capture(model, tmp_path / "m.capture").attach()
    model(torch.tensor([1, 2, 3]), torch.tensor([[4, 5], [6, 7]]))
    model(torch.tensor([9, 9, 8]), torch.tensor([[1, 1], [1, 2]]))
    cap.detach()
    model(torch.tensor([0, 0, 0]), torch.tensor([[0, 0], [0, 0]]))  # detached: not recorded
    trace = load_trace(tmp_path / "m.capture")
    assert lookups_of(trace) == [[(0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (1, 6), (1, 7)],
                                 [(0, 9), (0, 9), (0, 8), (1, 1), (1, 1), (1, 1), (1, 2)]]
    assert trace.meta["table_info"] == [{"name": "bag", "dim": 4, "dtype": "fp32"},
                                        {"name": "emb", "dim": 2, "dtype": "fp16"}]
    with Capture(model, tmp_path / "w.capture", window=(3600, 7200)):
        model(torch.tensor([1, 2, 3]), torch.tensor([[4, 5], [6, 7]]))  # before the window
    with pytest.raises(TraceFormatError, match="part-NNNNNN"):
        load_trace(tmp_path / "w.capture")


def test_capture_fbgemm_tbe(tmp_path):
    tbe_ops = pytest.importorskip("fbgemm_gpu.split_table_batched_embeddings_ops_training")
    from fbgemm_gpu.split_table_batched_embeddings_ops_common import EmbeddingLocation
    from fbgemm_gpu.split_table_batched_embeddings_ops_training import ComputeDevice

    tbe = tbe_ops.SplitTableBatchedEmbeddingBagsCodegen(
        [(100, 8, EmbeddingLocation.HOST, ComputeDevice.CPU),
         (50, 4, EmbeddingLocation.HOST, ComputeDevice.CPU)], feature_table_map=[0, 1, 0])
    indices = torch.tensor([1, 2, 3, 40, 41, 7, 8, 9], dtype=torch.int64)
    offsets = torch.tensor([0, 2, 3, 5, 5, 6, 8], dtype=torch.int64)  # 3 features x 2 samples
    with Capture(tbe, tmp_path / "tbe.capture"):
        tbe(indices, offsets)
    trace = load_trace(tmp_path / "tbe.capture")
    assert lookups_of(trace) == [[(0, 1), (0, 2), (0, 3), (1, 40), (1, 41), (0, 7), (0, 8),
                                  (0, 9)]]
    assert [t["name"] for t in trace.meta["table_info"]] == ["model.t0", "model.t1"]


KILLED = """
import os, signal, sys, torch
sys.path.insert(0, {tests!r})
from test_capture import ebc, random_kjts
from recsim.capture import Capture
model = ebc()
cap = Capture(model, {path!r}, chunk=40).attach()
for i, (kjt, _) in enumerate(random_kjts(30)):
    model(kjt)
    if i == 20:
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_capture_leaves_a_valid_trace(tmp_path):
    path = tmp_path / "killed.capture"
    code = KILLED.format(tests=os.path.dirname(__file__), path=str(path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-500:]
    trace = load_trace(path)
    assert trace.meta["provenance"]["complete"] is False
    fed = [lk for _, lk in random_kjts(30)]
    got = lookups_of(trace)
    assert 0 < len(got) <= 21 and got == fed[:len(got)]  # whole parts of the first batches
    assert simulate(trace, "lru", 20, 0).counts["accesses"] == trace.n_accesses


def test_bad_capture_input(tmp_path):
    with pytest.raises(ConfigError, match="found none"):
        Capture(torch.nn.Linear(2, 2), tmp_path / "x.capture")
    model = ebc()
    with Capture(model, tmp_path / "y.capture"):
        model(random_kjts(1)[0][0])
    with pytest.raises(TraceFormatError, match="already holds a trace"):
        Capture(model, tmp_path / "y.capture").attach()
    assert load_trace(tmp_path / "y.capture").n_batches == 1  # untouched
    Capture(model, tmp_path / "y.capture", force=True).attach().detach()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(TraceFormatError, match="not a capture"):
        Capture(model, tmp_path / "mine", force=True).attach()
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    with pytest.raises(ConfigError, match="every"):
        Capture(model, tmp_path / "z.capture", every=0)


def test_kjt_importer(tmp_path):
    batches = random_kjts(4)
    torch.save([kjt for kjt, _ in batches], tmp_path / "batches.kjt")
    torch.save(batches[0][0], tmp_path / "one.kjt")
    trace = load_trace(tmp_path / "batches.kjt")
    keys = ["f0", "f1", "f2", "f_shared"]
    fed = [[(keys.index(k), r) for k, r in kjt.to_dict().items() for r in r.values().tolist()]
           for kjt, _ in batches]
    assert lookups_of(trace) == fed
    assert [t["name"] for t in trace.meta["table_info"]] == keys
    assert load_trace(tmp_path / "one.kjt").n_batches == 1
    torch.save(batches[0][0], tmp_path / "one.kjt.pt")  # not dlrm_datasets' .pt
    assert load_trace(tmp_path / "one.kjt.pt").n_batches == 1
    assert main(["trace", "import", str(tmp_path / "batches.kjt"), "-o",
                 str(tmp_path / "b.trace")]) == 0
    assert load_trace(tmp_path / "b.trace").meta["table_info"] == trace.meta["table_info"]
    torch.save({"not": torch.tensor([1])}, tmp_path / "other.kjt")
    with pytest.raises(TraceFormatError, match="KeyedJaggedTensor.*got dict"):
        load_trace(tmp_path / "other.kjt")


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_criteo_npy_importer(tmp_path, dtype):
    rng = np.random.default_rng(1)
    sparse = rng.integers(0, 1000, (10, 26)).astype(dtype)
    np.save(tmp_path / "day_0_sparse.npy", sparse)
    trace = load_trace(tmp_path / "day_0_sparse.npy", batch_size=4)
    assert trace.batch_offsets.tolist() == [0, 104, 208, 260]
    first = sparse[:4].T.reshape(-1)  # table-major, as TorchRec's KJT
    assert trace.row[:104].tolist() == first.tolist()
    assert trace.table[:104].tolist() == np.repeat(np.arange(26), 4).tolist()
    assert trace.meta["table_info"][25]["name"] == "cat_25"
    np.save(tmp_path / "day_1_sparse.npy", sparse[:, :13])
    with pytest.raises(TraceFormatError, match=r"\[samples, 26\].*shape \[10, 13\]"):
        load_trace(tmp_path / "day_1_sparse.npy")
    np.save(tmp_path / "day_2_sparse.npy", sparse.astype(np.float32))
    with pytest.raises(TraceFormatError, match="float32"):
        load_trace(tmp_path / "day_2_sparse.npy")


def captured_mixed(tmp_path, dims=(32, 64, 64)):
    model, batches = ebc(dims), random_kjts(40, batch=16, zipf=1.2)
    with Capture(model, tmp_path / "mixed.capture"):
        for kjt, _ in batches:
            model(kjt)
    return model, load_trace(tmp_path / "mixed.capture")


def test_names_and_dims_through_stats_simulate_plan(tmp_path, capsys):
    model, trace = captured_mixed(tmp_path)
    assert table_row_bytes(trace, None, "fp16").tolist() == [128, 256, 256]  # fp32 rows
    result = plan(trace, 4000, table_row_bytes(trace, None, "fp16"), verify=False)
    sizes = np.array([128, 256, 256])
    assert result["plan"]["bytes"] == int((np.array(result["plan"]["rows"]) * sizes).sum())
    assert result["plan"]["bytes"] <= 4000 and result["shared"]["bytes"] <= 4000
    path = str(tmp_path / "mixed.capture")
    assert main(["trace", "stats", path]) == 0
    assert "table_0 " in capsys.readouterr().out
    assert main(["simulate", "--trace", path, "--capacity", "20", "--per-table"]) == 0
    assert "table_2 " in capsys.readouterr().out
    assert main(["plan", path, "--budget", "4000", "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert "128-256 bytes per row" in out and "table_1" in out
    bare = type(trace)(trace.table, trace.row, trace.batch_offsets, trace.cardinalities, {})
    with pytest.raises(ConfigError, match="table 't0'.*--dim"):
        table_row_bytes(bare, None, "fp16")
    assert table_row_bytes(bare, 8, "fp16").tolist() == [16, 16, 16]


def test_torchrec_round_trip(tmp_path, capsys):
    from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
    from torchrec.distributed.planner import EmbeddingShardingPlanner, Topology

    from recsim.harness.torchrec_plan import load_constraints

    model, trace = captured_mixed(tmp_path)
    out = tmp_path / "constraints.json"
    assert main(["plan", str(tmp_path / "mixed.capture"), "--budget", "8000", "--torchrec",
                 str(out)]) == 0
    chosen = {t["name"]: t["load_factor"] for t in json.loads(out.read_text())["tables"]}
    assert len(chosen) == 3 and len(set(chosen.values())) > 1
    assert all(0 < f < 1 for f in chosen.values())
    constraints = load_constraints(out, model)
    planner = EmbeddingShardingPlanner(topology=Topology(world_size=1, compute_device="cuda"),
                                       constraints=constraints)
    sharding = planner.plan(model, [EmbeddingBagCollectionSharder()])
    planned = {name: s for module in sharding.plan.values() for name, s in module.items()}
    assert set(planned) == set(chosen)
    for name, s in planned.items():
        assert s.compute_kernel == "fused_uvm_caching"
        assert s.cache_params.load_factor == chosen[name]
        assert s.cache_params.stats.height == ROWS[int(name[-1])]
    other = ebc()
    other.embedding_bag_configs()[0].name = "users"
    with pytest.raises(ConfigError, match="table 'table_0': expected a table of the model"):
        load_constraints(out, [c.name for c in other.embedding_bag_configs()])
    with pytest.raises(ConfigError, match="recsim plan --torchrec"):
        load_constraints(tmp_path / "mixed.capture" / "capture.json", model)


def test_load_factor_ends_map_to_kernels():
    from recsim.harness.torchrec_plan import kernel

    assert [kernel(f) for f in (0.0, 0.3, 1.0)] == ["fused_uvm", "fused_uvm_caching", "fused"]


class Lookups(torch.nn.Module):
    """Two plain torch tables; a forward looks up ``x`` in the first, ``y`` in the second,
    and raises after the lookups when asked (a failed batch)."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Embedding(50, 2)
        self.b = torch.nn.EmbeddingBag(30, 2)

    def forward(self, x, y, fail=False):
        out = self.a(x).sum() + self.b(y, torch.tensor([0]))
        if fail:
            raise RuntimeError("a failed batch")
        return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.tuples(st.lists(st.integers(0, 49), min_size=0, max_size=6),
                                  st.lists(st.integers(0, 29), min_size=1, max_size=6),
                                  st.booleans()), min_size=1, max_size=12),
       chunk=st.integers(1, 20), every=st.integers(1, 3),
       max_lookups=st.one_of(st.none(), st.integers(1, 60)))
def test_capture_records_exactly_the_sampled_lookups(batches, chunk, every, max_lookups):
    """Any chunk size, every n-th batch, a lookup limit and failing forwards: the trace is
    the sampled, completed batches' lookups in order, cut at the limit."""
    model, expected, seen = Lookups(), [], 0
    with tempfile.TemporaryDirectory() as folder:
        with Capture(model, f"{folder}/p.capture", chunk=chunk, every=every,
                     max_lookups=max_lookups):
            for x, y, fail in batches:
                sampled = seen % every == 0
                seen += 1
                try:
                    model(torch.tensor(x, dtype=torch.int64), torch.tensor(y), fail)
                except RuntimeError:
                    continue
                if sampled:
                    expected.append([(0, r) for r in x] + [(1, r) for r in y])
        kept, total = [], 0
        for batch in expected:
            if max_lookups is not None and total >= max_lookups:
                break
            cut = batch if max_lookups is None else batch[:max_lookups - total]
            kept.append(cut)
            total += len(cut)
        if not any(kept):
            return
        trace = load_trace(f"{folder}/p.capture")
        assert lookups_of(trace) == kept
