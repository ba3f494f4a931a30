"""64-bit row ids (hashed ids of production logs): any int64 or uint64 imports, replays,
gives MRCs and exports without overflow, with the counts of the same trace after each
table's rows are renumbered densely (the ranked key layout of recsim.traces.trace)."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsim import simulate
from recsim.cli import main
from recsim.errors import TraceFormatError
from recsim.engine.mrc import lru_mrc
from recsim.traces import load_trace
from recsim.traces.trace import UNKNOWN, Trace

I64 = (-(1 << 63), (1 << 63) - 1)
U64 = (0, (1 << 64) - 1)
REPLAYS = [("lru", 6, 0), ("belady", 6, 0), ("srrip", 64, 32)]  # (policy, capacity, ways)


def renumbered(table, values) -> Trace:
    """The trace with each table's rows replaced by their rank among its distinct rows."""
    table = np.asarray(table, np.int32)
    values = np.asarray(values)
    row = np.empty(table.shape[0], np.int64)
    for t in np.unique(table):
        at = table == t
        row[at] = np.unique(values[at], return_inverse=True)[1].reshape(-1)
    return Trace.from_arrays(table, row)


def counts(trace) -> list:
    out = [simulate(trace, p, capacity=c, ways=w).counts for p, c, w in REPLAYS]
    mrc = lru_mrc(trace)
    return out + [mrc["misses"]]


def write_csv(path, table, values, hexadecimal: bool) -> None:
    text = (hex(int(v)) if hexadecimal and v >= 0 else str(int(v)) for v in values)
    lines = (f"{t},{v}" for t, v in zip(table, text))
    path.write_text("table,row\n" + "\n".join(lines) + "\n")


@st.composite
def hashed_traces(draw):
    """(table ids, row ids as Python ints, unsigned?) with ids from the whole int64 or
    uint64 range, a few hot ids among them so that buffers hit."""
    unsigned = draw(st.booleans())
    lo, hi = U64 if unsigned else I64
    hot = draw(st.lists(st.integers(lo, hi), min_size=1, max_size=8))
    ids = st.one_of(st.sampled_from(hot), st.integers(lo, hi), st.integers(0, 70))
    n = draw(st.integers(1, 150))
    tables = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    rows = draw(st.lists(ids, min_size=n, max_size=n))
    return tables, rows, unsigned


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=hashed_traces(), hexadecimal=st.booleans())
def test_any_64_bit_id_imports_and_replays_as_its_dense_renumbering(capsys, case, hexadecimal):
    with tempfile.TemporaryDirectory() as tmp:
        check_hashed_log(Path(tmp), capsys, *case, hexadecimal)


def check_hashed_log(tmp_path, capsys, tables, rows, unsigned, hexadecimal):
    csv = tmp_path / "log.csv"
    write_csv(csv, tables, rows, hexadecimal)
    native = tmp_path / "log.trace"
    assert main(["trace", "import", str(csv), "-o", str(native)]) == 0
    assert main(["trace", "info", str(native)]) == 0
    out_file = tmp_path / "log.oracleGeneral"
    assert main(["trace", "export", str(native), "-o", str(out_file)]) == 0
    capsys.readouterr()
    trace = load_trace(native)
    values = np.array(rows, dtype=np.uint64 if unsigned else np.int64)
    np.testing.assert_array_equal(trace.row_values(), values)
    from_list = Trace.from_arrays(tables, rows)  # Python ints, past int64 too
    np.testing.assert_array_equal(from_list.row_values().astype(values.dtype), values)
    dense = renumbered(tables, values)
    wide = bool(values.view(np.uint64).max() >= 1 << 62 or (not unsigned and values.min() < 0))
    assert trace.ranked or not wide
    mine, theirs = counts(trace), counts(dense)
    assert mine[0] == theirs[0] and mine[1] == theirs[1] and mine[3] == theirs[3]
    if trace.ranked:  # the same keys, hence the same sets
        np.testing.assert_array_equal(trace.keys(), dense.keys())
        assert mine[2] == theirs[2]
    exported = load_trace(out_file)
    assert simulate(exported, "lru", capacity=6, ways=0).counts == mine[0]


def test_the_reported_64_bit_log_replays(tmp_path, capsys):
    """The issue's case, scaled down: 4 tables, 70% of rows below 5,000, the rest
    uniform in [0, 2**62): info, simulate and mrc run, with the renumbered trace's counts."""
    rng = np.random.default_rng(0)
    n = 20_000
    table = rng.integers(0, 4, n)
    row = np.where(rng.random(n) < 0.7, rng.integers(0, 5000, n), rng.integers(0, 1 << 62, n))
    write_csv(tmp_path / "h.csv", table, row, hexadecimal=False)
    path = tmp_path / "h.trace"
    for argv in (["trace", "import", tmp_path / "h.csv", "-o", path], ["trace", "info", path],
                 ["simulate", "--trace", path, "--policy", "lru", "--capacity", "5%"],
                 ["mrc", path, "--sample", "0.5"]):
        assert main([str(a) for a in argv]) == 0
    assert "Traceback" not in capsys.readouterr().err
    trace = load_trace(path)
    assert trace.ranked and counts(trace) == counts(renumbered(table, row))


def test_a_table_without_accesses_keeps_one_row():
    """Ranked keys equal the renumbered trace's, where table 0 (no access) has one row."""
    trace = Trace.from_arrays([1, 2, 1], [-1, 2**62, 5])
    assert trace.ranked and trace.table_rows.tolist() == [1, 2, 1]
    np.testing.assert_array_equal(trace.keys(), [64, 128, 65])
    np.testing.assert_array_equal(trace.keys(), renumbered([1, 2, 1], [-1, 2**62, 5]).keys())


def test_the_largest_int64_id_has_an_unknown_cardinality(tmp_path):
    (tmp_path / "one.csv").write_text(f"table,row\n0,{(1 << 63) - 1}\n0,3\n0,{(1 << 63) - 1}\n")
    trace = load_trace(tmp_path / "one.csv")
    assert trace.cardinalities.tolist() == [UNKNOWN] and trace.ranked
    assert trace.info()["cardinalities"] == ["unknown"]
    assert simulate(trace, "lru", capacity=1, ways=0).hits == 0
    assert simulate(trace, "lru", capacity=2, ways=0).hits == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet", "native", "user_item"])
def test_unsigned_64_bit_hashes_import_in_every_format(tmp_path, fmt):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = np.array([2**64 - 1, 5, 2**63, 5, 2**64 - 1, 2**63 + 7], dtype=np.uint64)
    table = np.array([0, 1, 0, 1, 0, 1])
    if fmt == "csv":
        path = tmp_path / "u.csv"
        write_csv(path, table, ids, hexadecimal=True)
    elif fmt == "parquet":
        path = tmp_path / "u.parquet"
        pq.write_table(pa.table({"table": table, "row": ids}), path)
    elif fmt == "native":
        path = tmp_path / "u.trace"
        from recsim.traces import save_trace
        save_trace(Trace.from_arrays(table, np.zeros(6, np.int64)), path)
        np.save(path / "row.npy", ids)  # a user's own uint64 array
        meta = json.loads((path / "meta.json").read_text())
        (path / "meta.json").write_text(json.dumps({**meta, "cardinalities": [0, 0]}))
    else:
        path = tmp_path / "u.useritem.txt"
        path.write_text("".join(f"{a} {b}\n" for a, b in zip(ids[0::2], ids[1::2])))
    trace = load_trace(path)
    assert trace.unsigned_rows and trace.ranked
    np.testing.assert_array_equal(trace.row_values(), ids)
    assert simulate(trace, "lru", capacity=3, ways=0).hits == 2
    np.testing.assert_array_equal(trace.keys(), renumbered(table, ids).keys())


@pytest.mark.parametrize("rows, words", [
    ([-5, 2**64 - 1], "fit int64 or uint64"), ([2**64, 1], "fit int64 or uint64"),
    (["12", "x"], "'x' (row 1)"), ([1.5, 2], "integers"),
])
def test_bad_ids_from_python_are_one_line(rows, words):
    with pytest.raises(TraceFormatError) as info:
        Trace.from_arrays([0, 1], rows)
    assert words in str(info.value) and "field 'row'" in str(info.value)


@pytest.mark.parametrize("text, words", [
    ("table,row\n0,18446744073709551616\n", "fit int64 or uint64"),
    ("table,row\n0,-1\n0,18446744073709551615\n", "fit int64 or uint64"),
])
def test_ids_beyond_64_bits_are_one_line(tmp_path, text, words):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(TraceFormatError) as info:
        load_trace(tmp_path / "bad.csv")
    assert words in str(info.value) and "bad.csv" in str(info.value)


def test_declared_cardinalities_bound_the_rows(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("table,row\n0,5\n1,-7\n")
    out = tmp_path / "t.trace"
    assert main(["trace", "import", str(tmp_path / "t.csv"), "-o", str(out),
                 "--cardinality", "10", "0"]) == 0
    assert load_trace(out).cardinalities.tolist() == [10, UNKNOWN]
    assert main(["trace", "import", str(tmp_path / "t.csv"), "-o", str(tmp_path / "u.trace"),
                 "--cardinality", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cardinality" in err and "row -7 in table 1" in err
