"""Trace file formats: round trips, Meta's dlrm_datasets layout, real data, errors, zipf."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from recsim.errors import ConfigError, TraceFormatError
from recsim.traces import detect_format, format_module, load_trace, save_trace
from recsim.traces import dlrm_datasets, native, oracle_general, zipf
from recsim.traces.common import next_access_vtime
from recsim.traces.trace import Trace


def random_trace(seed=0, n=60, cards=(10, 200, 70), bounds=(0, 7, 20, 33, 60)) -> Trace:
    rng = np.random.default_rng(seed)
    table = rng.integers(0, len(cards), n)
    row = rng.integers(0, np.asarray(cards)[table])
    return Trace.from_arrays(table, row, np.asarray(bounds), np.asarray(cards))


def assert_same_accesses(a: Trace, b: Trace) -> None:
    np.testing.assert_array_equal(a.table, b.table)
    np.testing.assert_array_equal(a.row, b.row)
    np.testing.assert_array_equal(a.batch_offsets, b.batch_offsets)


def only_file(directory: Path, name: str) -> None:
    """The write left nothing but its output behind (no temporary files)."""
    assert sorted(p.name for p in directory.iterdir()) == [name]


# -- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("name, options", [("t.csv", {}), ("t.parquet", {}),
                                           ("t.pq", {}), ("t.trace", {})])
def test_round_trip_tables(tmp_path, name, options):
    trace = random_trace()
    save_trace(trace, tmp_path / name)
    only_file(tmp_path, name)
    back = load_trace(tmp_path / name, **options)
    assert_same_accesses(trace, back)
    if not name.endswith(".csv"):
        np.testing.assert_array_equal(back.cardinalities, trace.cardinalities)


def test_round_trip_recmg_text(tmp_path):
    trace = random_trace(bounds=(0, 8, 16, 24, 32, 40, 48, 56, 60))
    path = save_trace(trace, tmp_path / "t.recmg.txt")
    only_file(tmp_path, "t.recmg.txt")
    first = path.read_text().splitlines()[0]
    assert first == f"{trace.table[0]} {trace.row[0] * 1000 + trace.table[0]}"
    assert_same_accesses(trace, load_trace(path, batch_size=8))
    assert load_trace(path).n_batches == 1


def test_user_item_whitespace(tmp_path):
    path = tmp_path / "w.useritem.txt"
    path.write_bytes(b"1 2\r\n\n 3\t\t4  \r\n5 6")
    trace = load_trace(path, batch_size=2)
    assert trace.row.tolist() == [1, 2, 3, 4, 5, 6]
    assert trace.batch_offsets.tolist() == [0, 4, 6]
    assert trace.cardinalities.tolist() == [6, 7] and trace.name == "w"


def test_round_trip_user_item(tmp_path):
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, 50, (10, 2))
    trace = Trace.from_arrays(np.tile([0, 1], 10), pairs.reshape(-1), np.array([0, 6, 12, 18, 20]))
    path = save_trace(trace, tmp_path / "t.useritem.txt")
    assert path.read_text().splitlines()[0] == f"{pairs[0, 0]} {pairs[0, 1]}"
    assert_same_accesses(trace, load_trace(path, batch_size=3))
    with pytest.raises(TraceFormatError, match="alternating"):
        save_trace(random_trace(), tmp_path / "bad.useritem.txt")


def test_round_trip_oracle_general(tmp_path):
    trace = random_trace()
    path = save_trace(trace, tmp_path / "t.oracleGeneral")
    only_file(tmp_path, "t.oracleGeneral")
    assert path.stat().st_size == 24 * trace.n_accesses
    back = load_trace(path)
    np.testing.assert_array_equal(back.keys(), trace.keys())
    np.testing.assert_array_equal(back.batch_offsets, trace.batch_offsets)
    assert back.n_tables == 1


def test_oracle_general_matches_libcachesim(tmp_path):
    lcs = pytest.importorskip("libcachesim")
    trace = random_trace(seed=3)
    path = save_trace(trace, tmp_path / "t.oracleGeneral")
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    assert reader.get_num_of_req() == trace.n_accesses
    reqs = [reader.read_one_req() for _ in range(trace.n_accesses)]
    nxt = next_access_vtime(trace.dense().vid)
    keys, batch = trace.keys(), trace.batch_of_access()
    for i, req in enumerate(reqs):
        assert (req.obj_id, req.clock_time, req.obj_size) == (keys[i], batch[i] + 1, 1)
        if nxt[i] >= 0:  # libCacheSim's vtime is 1-based; "never" becomes a large value
            assert req.next_access_vtime == nxt[i] + 1
        else:
            assert req.next_access_vtime > trace.n_accesses


def test_next_access_vtime_matches_reference():
    vid = np.random.default_rng(0).integers(0, 20, 500)
    expected = [next((j for j in range(i + 1, len(vid)) if vid[j] == vid[i]), -1)
                for i in range(len(vid))]
    np.testing.assert_array_equal(next_access_vtime(vid), expected)
    assert next_access_vtime(np.array([], dtype=np.int64)).shape == (0,)


@pytest.mark.parametrize("name, fmt", [
    ("a.pt", "dlrm_datasets"), ("a.PT.GZ", "dlrm_datasets"), ("a.recmg.txt", "recmg_text"),
    ("a.recmg", "recmg_text"), ("a.csv", "csv_table"), ("a.parquet", "parquet_table"),
    ("a.pq", "parquet_table"), ("a.bin", "oracle_general"), ("a.oracleGeneral", "oracle_general"),
    ("a.oracle_general", "oracle_general"), ("a.useritem.txt", "user_item"),
    ("a.user_item.txt", "user_item"), ("a.trace", "native")])
def test_detect_format(name, fmt):
    assert detect_format(Path(name)) == fmt


# -- Meta's dlrm_datasets files ----------------------------------------------------------

LAYOUTS = [(np.int32, np.int64, np.int64), (np.int64, np.int32, np.int32)]


def dlrm_arrays(n_tables=3, n_samples=7, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 4, (n_tables, n_samples))
    lengths[1, 2] = 0
    offsets = np.concatenate(([0], np.cumsum(lengths.reshape(-1))))
    indices = rng.integers(0, 50, offsets[-1])
    return indices, offsets, lengths


def save_torch(path: Path, obj, gz=False) -> Path:
    if gz:
        with gzip.open(path, "wb") as fh:
            torch.save(obj, fh)
    else:
        torch.save(obj, path)
    return path


def save_dlrm(path, arrays, layout=LAYOUTS[0], gz=False) -> Path:
    obj = tuple(torch.from_numpy(np.asarray(a, dtype=dt)) for a, dt in zip(arrays, layout))
    return save_torch(path, obj, gz)


def expected_dlrm(indices, offsets, lengths, tables, batch_size, order):
    """The access sequence, by a plain loop over bags."""
    n_tables, n_samples = lengths.shape
    tables = list(range(n_tables)) if tables is None else tables
    table, row, bounds = [], [], [0]
    for s0 in range(0, n_samples, batch_size):
        samples = range(s0, min(s0 + batch_size, n_samples))
        if order == "table-major":
            bags = [(ti, b) for ti in range(len(tables)) for b in samples]
        else:
            bags = [(ti, b) for b in samples for ti in range(len(tables))]
        for ti, b in bags:
            k = tables[ti] * n_samples + b
            for x in indices[offsets[k]:offsets[k + 1]]:
                table.append(ti)
                row.append(int(x))
        bounds.append(len(table))
    return table, row, bounds


@pytest.mark.parametrize("layout", LAYOUTS, ids=["i32-o64-l64", "i64-o32-l32"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("order", ["table-major", "sample-major"])
@pytest.mark.parametrize("tables, batch_size", [(None, 512), (None, 3), ([2, 0], 3)])
def test_dlrm_datasets_access_order(tmp_path, monkeypatch, layout, gz, order, tables,
                                    batch_size):
    monkeypatch.setattr(dlrm_datasets, "_CHUNK_BAGS", 4)  # exercise the chunked gather
    arrays = dlrm_arrays()
    path = save_dlrm(tmp_path / ("f.pt.gz" if gz else "f.pt"), arrays, layout, gz)
    trace = load_trace(path, tables=tables, batch_size=batch_size, order=order)
    table, row, bounds = expected_dlrm(*arrays, tables, batch_size, order)
    assert trace.table.tolist() == table
    assert trace.row.tolist() == row
    assert trace.batch_offsets.tolist() == bounds
    prov = trace.meta["provenance"]
    assert prov["tables"] == (tables or [0, 1, 2])
    assert (prov["file_tables"], prov["file_samples"], prov["order"]) == (3, 7, order)
    assert trace.name == "f"


def test_dlrm_datasets_gzip_detected_by_content(tmp_path):
    arrays = dlrm_arrays(seed=5)
    path = save_dlrm(tmp_path / "compressed_but_named.pt", arrays, gz=True)
    table, row, _ = expected_dlrm(*arrays, None, 512, "table-major")
    assert load_trace(path).row.tolist() == row


def test_dlrm_datasets_write_read(tmp_path):
    trace = random_trace()
    # the format stores bags, so within a batch the accesses come back sorted by table
    key = trace.batch_of_access() * 10 + trace.table
    order = np.argsort(key, kind="stable")
    sorted_trace = Trace.from_arrays(trace.table[order], trace.row[order],
                                     trace.batch_offsets, trace.cardinalities)
    for name in ("w.pt", "w.pt.gz"):
        save_trace(trace, tmp_path / name)
        assert_same_accesses(sorted_trace, load_trace(tmp_path / name, batch_size=1))


# -- real data ---------------------------------------------------------------------------


def test_amazon_user_item(real_data_dir):
    trace = load_trace(real_data_dir / "amazon_video_sasrec.txt", format="user_item")
    assert trace.n_tables == 2
    assert trace.n_accesses == 2 * 287107
    assert trace.n_batches == -(-287107 // 512)
    assert (trace.table[0::2] == 0).all() and (trace.table[1::2] == 1).all()
    assert trace.row[:4].tolist() == [1, 6393, 1, 13504]


# -- errors ------------------------------------------------------------------------------


def assert_format_error(path: Path, field: str, *texts, fmt=None, **options):
    with pytest.raises(TraceFormatError) as info:
        format_module(fmt or detect_format(path)).read(path, **options)
    msg = str(info.value)
    assert path.name in msg and f"field '{field}'" in msg, msg
    for text in texts:
        assert text in msg, msg
    return msg


ALL_FORMATS = [("x.pt", None), ("x.recmg.txt", None), ("x.csv", None), ("x.parquet", None),
               ("x.bin", None), ("x.txt", "user_item")]


@pytest.mark.parametrize("name, fmt", ALL_FORMATS)
def test_missing_and_empty_files(tmp_path, name, fmt):
    assert_format_error(tmp_path / name, "path", "nothing there", fmt=fmt)
    (tmp_path / name).write_bytes(b"")
    assert_format_error(tmp_path / name, "file", "empty", fmt=fmt)


def dlrm_error_cases():
    ind, off, lens = dlrm_arrays()
    t = torch.from_numpy
    good = (t(ind), t(off), t(lens))
    bad_lens = lens.copy()
    bad_lens[0, 1] += 1
    decreasing = off.copy()
    decreasing[3] = decreasing[4] + 1
    negative = ind.copy()
    negative[5] = -2
    return [
        ("bad_gzip.pt.gz", b"\x1f\x8b" + b"not really gzip" * 4, "gzip", ()),
        ("truncated.pt.gz", None, "gzip", ()),  # filled in by the test
        ("junk.pt", b"this is not a torch file at all", "file", ()),
        ("pair.pt", good[:2], "file", ("2 items",)),
        ("dict.pt", {"indices": good[0]}, "file", ("dict",)),
        ("shape.pt", (good[0], good[1], t(lens.reshape(-1))), "lengths", ("2-D",)),
        ("float.pt", (good[0].double(), good[1], good[2]), "indices", ("float64",)),
        ("offlen.pt", (good[0], good[1][:-1], good[2]), "offsets", ("T*B+1",)),
        ("offend.pt", (good[0][:-1], good[1], good[2]), "offsets", ("len(indices)",)),
        ("decreasing.pt", (good[0], t(decreasing), t(np.diff(decreasing).reshape(lens.shape))),
         "offsets", ("non-decreasing",)),
        ("lengths.pt", (good[0], good[1], t(bad_lens)), "lengths", ("table 0, sample 1",)),
        ("negative.pt", (t(negative), good[1], good[2]), "indices", ("position 5",)),
    ]


@pytest.mark.parametrize("name, content, field, texts", dlrm_error_cases(),
                         ids=[c[0] for c in dlrm_error_cases()])
def test_dlrm_datasets_errors(tmp_path, name, content, field, texts):
    path = tmp_path / name
    if name == "truncated.pt.gz":
        save_dlrm(tmp_path / "whole.pt.gz", dlrm_arrays(), gz=True)
        data = (tmp_path / "whole.pt.gz").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        save_torch(path, content)
    assert_format_error(path, field, *texts)


def test_dlrm_datasets_bad_options(tmp_path):
    path = save_dlrm(tmp_path / "f.pt", dlrm_arrays())
    for options in ({"tables": [3]}, {"tables": [0, 0]}, {"batch_size": 0},
                    {"order": "random"}, {"colour": 1}):
        with pytest.raises(ConfigError):
            load_trace(path, **options)


TEXT_ERRORS = [
    ("bad.recmg.txt", "0 1000\n1 1001\n0 abc\n", "line", ("line 3", "table key")),
    ("cols.recmg.txt", "0 1000 5\n", "line", ("line 1",)),
    ("neg.recmg.txt", "0 1000\n0 -1000\n", "line", ("line 2",)),
    ("key.recmg.txt", "0 1000\n\n1 2002\n", "key", ("line 3", "'1 2002'")),
    ("huge.useritem.txt", "1 2\n3 18446744073709551616\n", "line", ("line 2", "uint64")),
    ("mixed.useritem.txt", "-1 2\n3 18446744073709551615\n", "user/item",
     ("int64 or uint64 alike",)),
    ("short.useritem.txt", "1 2\n3\n5 6", "line", ("line 2",)),
    ("blank.useritem.txt", "\n \n", "line", ("only blank lines",)),
    ("nocol.csv", "table,col\n0,1\n", "row", ("columns",)),
    ("text.csv", "table,row\n0,1\n1,x\n", "line", ("line 3", "1,x")),
    ("batch.csv", "table,row,batch\n0,1,1\n0,2,0\n", "batch", ("non-decreasing",)),
    ("header.csv", "table,row\n", "table", ("at least one access",)),
    ("huge.csv", "table,row\n0,1\n0,99999999999999999999999\n", "row",
     ("fit int64 or uint64",)),
    ("hexbad.csv", "table,row\n0,0x1g\n", "line", ("line 2", "0,0x1g")),
    ("junk.parquet", "this is not parquet", "file", ("Parquet",)),
]


@pytest.mark.parametrize("name, text, field, texts", TEXT_ERRORS, ids=[c[0] for c in TEXT_ERRORS])
def test_text_format_errors(tmp_path, name, text, field, texts):
    path = tmp_path / name
    path.write_text(text)
    assert_format_error(path, field, *texts)


def test_parquet_column_errors(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"table": [0, 1]}), tmp_path / "norow.parquet")
    assert_format_error(tmp_path / "norow.parquet", "row", "columns")
    pq.write_table(pa.table({"table": [0, 1], "row": [1.5, 2.0]}), tmp_path / "float.parquet")
    assert_format_error(tmp_path / "float.parquet", "row", "integer")


def test_oracle_general_truncated(tmp_path):
    path = save_trace(random_trace(), tmp_path / "t.bin")
    path.write_bytes(path.read_bytes()[:-5])
    assert_format_error(path, "record", "24-byte", "truncated")


# -- zipf ------------------------------------------------------------------------------


def test_zipf_deterministic_and_seeded():
    a = zipf.generate(20_000, tables=3, rows=500, alpha=1.0, seed=7, batch_size=1000)
    b = zipf.generate(20_000, tables=3, rows=500, alpha=1.0, seed=7, batch_size=1000)
    c = zipf.generate(20_000, tables=3, rows=500, alpha=1.0, seed=8, batch_size=1000)
    assert_same_accesses(a, b)
    assert not np.array_equal(a.row, c.row)
    assert a.n_batches == 20 and a.cardinalities.tolist() == [500, 500, 500]
    assert set(np.unique(a.table).tolist()) == {0, 1, 2}
    assert a.meta["provenance"] == {"generator": "zipf", "accesses": 20_000, "tables": 3,
                                    "rows": 500, "batch_size": 1000, "alpha": 1.0, "seed": 7}


@pytest.mark.parametrize("alpha", [0.6, 1.0, 1.4])
def test_zipf_popularity_skew(alpha):
    rows, n = 1000, 200_000
    trace = zipf.generate(n, rows=rows, alpha=alpha, seed=1)
    counts = np.sort(np.bincount(trace.row, minlength=rows))[::-1]
    p = np.arange(1, rows + 1, dtype=float) ** -alpha
    p /= p.sum()
    assert counts[0] / n == pytest.approx(p[0], rel=0.05)
    assert counts[:10].sum() / n == pytest.approx(p[:10].sum(), rel=0.05)
    assert np.argmax(np.bincount(trace.row)) != 0  # ranks are permuted


def test_zipf_to_native_directory(tmp_path):
    in_memory = zipf.generate(np.int64(5000), tables=2, rows=300, alpha=0.8, seed=3,
                              batch_size=128)
    on_disk = zipf.generate(5000, tables=2, rows=300, alpha=0.8, seed=3, batch_size=128,
                            path=tmp_path / "z.trace")
    assert native.is_native(tmp_path / "z.trace") and on_disk.path == tmp_path / "z.trace"
    only_file(tmp_path, "z.trace")
    assert_same_accesses(in_memory, on_disk)
    np.testing.assert_array_equal(on_disk.cardinalities, [300, 300])
    assert on_disk.meta["provenance"]["generator"] == "zipf"
    vid = on_disk.dense().vid  # cached beside the trace with files.write_npy_atomic
    assert (tmp_path / "z.trace" / "vid.npy").exists()
    np.testing.assert_array_equal(native.read(tmp_path / "z.trace").vid, vid)


@pytest.mark.parametrize("bad", [{"accesses": 0}, {"tables": 0}, {"rows": -1},
                                 {"alpha": -0.5}, {"alpha": float("nan")}, {"batch_size": 0}])
def test_zipf_rejects_bad_parameters(bad):
    params = {"accesses": 10, **bad}
    with pytest.raises(ConfigError, match=next(iter(bad))):
        zipf.generate(**params)


def test_oracle_general_reexports_next_access_vtime():
    assert oracle_general.next_access_vtime is next_access_vtime
    assert dlrm_datasets.EXTENSIONS == (".pt", ".pt.gz")


@pytest.mark.parametrize("rows", [50, 10**12], ids=["bitmap", "sparse-sort"])
def test_streaming_remap_equals_a_sort(monkeypatch, tmp_path, rows):
    """Chunked two-pass remap (7 accesses a chunk here), in memory and written straight
    into vid.npy of an on-disk trace, equals np.unique's ranks of the keys."""
    from recsim.traces import trace as trace_module

    monkeypatch.setattr(trace_module, "REMAP_CHUNK", 7)
    rng = np.random.default_rng(4)
    trace = Trace.from_arrays(rng.integers(0, 3, 500), rng.integers(0, rows, 500),
                              cardinalities=[rows] * 3)
    uniq, inverse = np.unique(trace.keys(), return_inverse=True)
    dense = trace_module.compute_dense(trace)
    np.testing.assert_array_equal(dense.vid, inverse)
    np.testing.assert_array_equal(dense.keys, uniq)
    native.write(trace, tmp_path / "t.trace")
    on_disk = native.read(tmp_path / "t.trace")
    np.testing.assert_array_equal(on_disk.dense().vid, inverse)
    np.testing.assert_array_equal(np.load(tmp_path / "t.trace" / "vid.npy"), inverse)
    np.testing.assert_array_equal(np.load(tmp_path / "t.trace" / "keys.npy"), uniq)
    assert not list((tmp_path / "t.trace").glob(".*"))  # no temporary file left


@pytest.mark.parametrize("table, row, words", [
    ([0, 1, 0, 2, 0], [1, 1, 1, 1, 1], "table ids in [0, 2), got range [0, 2]"),
    ([0, 1, 0, 1, 0], [1, 1, -4, 1, 1], "row -4 in table 0 of 5 rows (access 2)"),
    ([0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 1, 9, 5, 1],
     "row 9 in table 0 of 5 rows (access 4)"),  # in the second chunk, first of two
])
def test_validation_scans_in_chunks(monkeypatch, table, row, words):
    from recsim.traces import trace as trace_module

    monkeypatch.setattr(trace_module, "REMAP_CHUNK", 3)
    with pytest.raises(TraceFormatError) as info:
        Trace.from_arrays(table, row, cardinalities=[5, 5])
    assert words in str(info.value)
