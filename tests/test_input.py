"""A newcomer's input problems: outputs not replaced without --force, capacity warnings,
strict parameters in the CLI and the API, third-party errors as one line naming the file,
compile notes, and the statistics text output asks for."""

import functools
import gzip
import logging

import pytest

import recsim
from recsim.cli import main
from recsim.engine import kernels
from recsim.errors import ConfigError, RecsimWarning, TraceFormatError
from recsim.traces import load_trace, zipf


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("input") / "z.trace"
    assert main(["trace", "gen", "zipf", "-o", str(path), "--accesses", "5000", "--tables", "2",
                 "--rows", "500", "--seed", "1"]) == 0
    return path


@pytest.mark.parametrize("command", [
    ["trace", "gen", "zipf", "--accesses", "100"],
    ["trace", "import", "SMALL"],
    ["trace", "export", "SMALL"],
])
def test_existing_output_needs_force(command, small, tmp_path, capsys):
    out = tmp_path / "out.trace"
    out.mkdir()
    (out / "keep").write_text("mine")
    argv = [str(small) if a == "SMALL" else a for a in command] + ["-o", str(out)]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"recsim: error: {out}: exists; pass --force to replace it\n"
    assert (out / "keep").read_text() == "mine"
    if command[1] != "export":  # export writes the trace's own format, not a folder
        assert main(argv + ["--force"]) == 0
        assert load_trace(out).n_accesses > 0


def test_capacity_warnings(small):
    n_unique = load_trace(small).n_unique
    with pytest.warns(RecsimWarning, match="capacity 10 vectors is below ways 32: the buffer "
                      "is one fully associative set"):
        assert recsim.simulate(small, "lru", 10, 32).sets == 1
    with pytest.warns(RecsimWarning, match=f"holds every unique vector of the trace "
                      f"\\({n_unique:,}\\)"):
        recsim.simulate(small, "lru", 1.0, 0)


def test_capacity_warning_is_one_line_in_the_cli(small, capsys):
    assert main(["simulate", "--trace", str(small), "--capacity", "1.0", "--ways", "0"]) == 0
    err = capsys.readouterr().err
    assert "recsim: warning: capacity" in err and "Warning" not in err


def test_capacity_help_says_what_1_and_1_0_mean(capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(1 = one vector)" in text and "(1.0 = all" in text


@pytest.mark.parametrize("value", ["maybe", "2", "tru"])
def test_booleans_are_strict_in_cli_and_api(value, small, capsys):
    argv = ["simulate", "--trace", str(small), "--policy", "belady", "--capacity", "0.1",
            "--param", f"bypass={value}"]
    assert main(argv) == 2
    assert "parameter 'bypass': expected a boolean" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="expected a boolean"):
        recsim.simulate(small, "belady", 0.1, policy_params={"bypass": value})
    with pytest.raises(ConfigError, match="expected a boolean"):
        recsim.simulate(small, "belady", 0.1, policy_params={"bypass": 1})


def test_corrupt_pt_gz_is_one_short_line_naming_the_file(tmp_path):
    path = tmp_path / "fbgemm_t2_bs4_0.pt.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"PK\x03\x04 not a torch zip archive" * 20)
    with pytest.raises(TraceFormatError) as info:
        load_trace(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text and len(text) < 300
    assert "weights_only" not in text  # torch's own advice is not passed on


def test_bad_yaml_is_one_line(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\ntraces: [\n  {name: a\n")
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"recsim: error: {spec}: not valid YAML: ") and err.count("\n") == 1


def test_text_output_shows_per_table_and_window_statistics(small, capsys):
    assert main(["simulate", "--trace", str(small), "--capacity", "0.1", "--per-table",
                 "--window", "2000"]) == 0
    out = capsys.readouterr().out
    result = recsim.simulate(small, "lru", 0.1, per_table=True, window=2000)
    rates = result.per_table["hit_rate"]
    assert f"hit rate per table:  t0 {rates[0]:.4f}  t1 {rates[1]:.4f}" in out
    windows = "  ".join(f"{r:.4f}" for r in result.window_hit_rate)
    assert f"hit rate per window of 2,000 accesses:  {windows}" in out


def test_cold_compile_is_announced_once_and_timed(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RECSIM_CACHE_DIR", str(tmp_path))
    # loops loaded by earlier tests in this process (from another cache folder) are not it
    monkeypatch.setattr(kernels, "load_kernel", functools.cache(kernels.load_kernel.__wrapped__))
    looked = []  # the disk cache is listed once: the second replay has the loop in memory
    monkeypatch.setattr(kernels, "is_compiled", lambda *a: looked.append(a) or False)
    trace = zipf.generate(2000, tables=1, rows=300, seed=0)
    with caplog.at_level(logging.INFO, logger="recsim"):
        recsim.simulate(trace, "fifo", 0.1, 0)
        recsim.simulate(trace, "fifo", 0.1, 0)
    notes = [r.getMessage() for r in caplog.records if "compiling" in r.getMessage()]
    assert notes == ["compiling the fifo + none replay loop (one time, up to a minute)"]
    assert len(looked) == 1
    assert "replay_fifo__none__one_set" in (tmp_path / "kernels" /
                                            "compile_times.json").read_text()


def test_compile_command_warms_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RECSIM_CACHE_DIR", str(tmp_path))
    assert main(["compile", "fifo+next_n", "--kinds", "one_set", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "0 of 1 loops already compiled; compiling 1" in out
    assert "fifo + next_n (one_set): " in out
    assert main(["compile", "fifo+next_n", "--kinds", "one_set"]) == 0
    assert "1 of 1 loops already compiled; compiling 0" in capsys.readouterr().out
    assert main(["compile", "fifo+nxt"]) == 2
