"""The command line: every subcommand end to end, and one clear line per input error."""

import json

import numpy as np
import pytest

from recsim.cli import main
from recsim.traces import Trace, save_trace


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def small_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "small.trace"
    assert main(["trace", "gen", "zipf", "-o", str(path), "--accesses", "20000", "--tables",
                 "2", "--rows", "3000", "--alpha", "0.8", "--seed", "3"]) == 0
    return path


def test_gen_info_simulate(small_trace, capsys):
    code, out, _ = run(capsys, "trace", "info", small_trace, "--json")
    info = json.loads(out)
    assert code == 0 and info["accesses"] == 20000 and info["tables"] == 2
    code, out, _ = run(capsys, "simulate", "--trace", small_trace, "--policy", "lru",
                       "--capacity", "10%", "--ways", "32", "--json")
    result = json.loads(out)
    assert code == 0
    for key in ("accesses", "hits", "misses", "hit_rate", "cache_hits", "prefetch_hits",
                "prefetches_issued"):
        assert key in result
    assert result["hits"] + result["misses"] == result["accesses"] == 20000
    code, out, _ = run(capsys, "simulate", "--trace", small_trace, "--policy", "belady",
                       "--param", "bypass=true", "--prefetcher", "next_n", "--pf-param", "n=2",
                       "--capacity", "500")
    assert code == 0 and "belady + next_n" in out and out.count("prefetches issued") == 1
    assert "utilization" in out and "pollution misses" in out


def test_import_export_round_trip(small_trace, tmp_path, capsys):
    csv = tmp_path / "t.csv"
    assert run(capsys, "trace", "export", small_trace, "-o", csv)[0] == 0
    back = tmp_path / "back.trace"
    assert run(capsys, "trace", "import", csv, "-o", back)[0] == 0
    _, a, _ = run(capsys, "simulate", "--trace", small_trace, "--capacity", "0.05", "--json")
    _, b, _ = run(capsys, "simulate", "--trace", back, "--capacity", "0.05", "--json")
    assert json.loads(a)["misses"] == json.loads(b)["misses"]


def test_lists(capsys):
    _, out, _ = run(capsys, "policies")
    assert {"lru", "lfu", "fifo", "random", "belady"} <= {l.split()[0] for l in out.splitlines()}
    _, out, _ = run(capsys, "prefetchers")
    assert {"none", "next_n", "oracle"} <= {l.split()[0] for l in out.splitlines()}


def _corrupt(kind, path):
    trace = Trace.from_arrays(np.array([0, 0, 1], np.int32), np.array([1, 2, 3]))
    save_trace(trace, path)
    if kind == "meta":
        (path / "meta.json").write_text("{not json")
    elif kind == "truncated":
        data = (path / "row.npy").read_bytes()
        (path / "row.npy").write_bytes(data[:-9])
    elif kind == "dtype":
        np.save(path / "row.npy", np.array([1.0, 2.0, 3.0]))
    elif kind == "negative":
        np.save(path / "row.npy", np.array([1, -2, 3]))
    elif kind == "missing":
        (path / "table.npy").unlink()
    elif kind == "empty":
        for name, dtype in (("table", np.int32), ("row", np.int64)):
            np.save(path / f"{name}.npy", np.zeros(0, dtype))
        meta = json.loads((path / "meta.json").read_text())
        (path / "meta.json").write_text(json.dumps({**meta, "accesses": 0}))
        np.save(path / "batch_offsets.npy", np.array([0, 0]))


@pytest.mark.parametrize("kind, words", [
    ("meta", ["meta.json", "valid JSON"]),
    ("truncated", ["row.npy", "truncated"]),
    ("dtype", ["row.npy", "int64"]),
    ("negative", ["row", "row -2 in table 0 of 3 rows"]),
    ("missing", ["table.npy", "missing"]),
    ("empty", ["at least one access"]),
])
def test_bad_trace_gives_one_clear_line(kind, words, tmp_path, capsys):
    path = tmp_path / "bad.trace"
    _corrupt(kind, path)
    code, out, err = run(capsys, "simulate", "--trace", path, "--capacity", "2")
    assert code == 2 and out == ""
    assert err.startswith("recsim: error: ") and err.count("\n") == 1
    assert "Traceback" not in err and "bad.trace" in err
    for word in words:
        assert word in err


@pytest.mark.parametrize("argv, words", [
    (["--policy", "nope", "--capacity", "2"], ["unknown policy 'nope'", "lru"]),
    (["--capacity", "0"], ["capacity"]),
    (["--capacity", "-5"], ["capacity"]),
    (["--capacity", "2", "--param", "x=1"], ["unknown parameter 'x'"]),
    (["--capacity", "2", "--policy", "belady", "--param", "bypass=maybe"],
     ["policy 'belady': parameter 'bypass': expected a boolean: true or false (on the command "
      "line also yes/no, 1/0), got maybe"]),
    (["--capacity", "2", "--policy", "srrip", "--param", "rrpv_bits=1.5"],
     ["policy 'srrip': parameter 'rrpv_bits': expected an integer in [1, 7], got 1.5"]),
    (["--capacity", "2", "--prefetcher", "next_n", "--pf-param", "trigger=hit"],
     ["prefetcher 'next_n': parameter 'trigger': expected one of 'miss', 'access', got hit"]),
    (["--capacity", "2", "--ways", "-1"], ["ways"]),
])
def test_bad_settings_give_one_clear_line(small_trace, argv, words, capsys):
    code, out, err = run(capsys, "simulate", "--trace", small_trace, *argv)
    assert code == 2 and err.count("\n") == 1
    for word in words:
        assert word in err


def test_missing_trace_file(tmp_path, capsys):
    code, _, err = run(capsys, "simulate", "--trace", tmp_path / "nothing.trace",
                       "--capacity", "2")
    assert code == 2 and "nothing.trace" in err
    code, _, err = run(capsys, "trace", "import", tmp_path / "x.pt", "-o", tmp_path / "o.trace")
    assert code == 2 and "x.pt" in err


def test_simulate_compares_policies_in_one_table(small_trace, capsys):
    argv = ["simulate", "--trace", small_trace, "--capacity", "10%", "--ways", "8"]
    code, out, _ = run(capsys, *argv, "--policy", "lru,s3fifo,srrip")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert code == 0 and [r.split(" | ")[0] for r in rows] == [
        "| policy", "| lru", "| s3fifo", "| srrip"]
    code, out, _ = run(capsys, *argv, "--policy", "lru,srrip", "--json")
    results = json.loads(out)
    single = json.loads(run(capsys, *argv, "--policy", "srrip", "--json")[1])
    assert [r["policy"] for r in results] == ["lru", "srrip"]
    assert results[1]["hits"] == single["hits"] and results[1]["evictions"] == single[
        "evictions"]
    code, _, err = run(capsys, *argv, "--policy", "lru,nope")
    assert code == 2 and "unknown policy 'nope'" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, *argv, "--policy", "lru,srrip", "--param", "bits=3")
    assert code == 2 and "--param" in err


def test_trace_info_says_when_it_cuts_the_cardinalities(tmp_path, capsys):
    path = tmp_path / "wide.trace"
    assert main(["trace", "gen", "zipf", "-o", str(path), "--accesses", "2000", "--tables",
                 "40", "--rows", "50", "--seed", "1"]) == 0
    code, out, _ = run(capsys, "trace", "info", path)
    assert code == 0 and "(32 of 40 shown; --json lists all)" in out
    assert len(json.loads(run(capsys, "trace", "info", path, "--json")[1])[
        "cardinalities"]) == 40


def test_trace_import_help_lists_the_formats(capsys):
    with pytest.raises(SystemExit):
        main(["trace", "import", "--help"])
    out = capsys.readouterr().out
    assert "csv_table (.csv): CSV traces: a header naming the columns (batch,table,row)" in out
    assert all(f"  {name} (" in out for name in ("native", "parquet_table", "click_log"))
