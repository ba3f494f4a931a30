"""Out-of-tree plug-ins: one-file plug-ins (CLI, YAML, sweep workers), entry points, the
errors when they clash or fail, the kernel fingerprint of their files, and
recsim.testing catching a broken policy."""

import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import recsim
import recsim.cli
from recsim import registry
from recsim.cli import main
from recsim.engine.kernels import kernel_files, kernel_path
from recsim.errors import ConfigError
from recsim.experiments import sweep

FIXTURES = Path(__file__).parent / "fixtures"


def _trace():
    return recsim.Trace.from_arrays(np.zeros(60, np.int32), [0, 1, 2, 0, 3, 1] * 10)


def test_plugin_file_registers_and_replays():
    registry.load_plugin_files([FIXTURES / "mru_policy.py"])
    assert "mru" in registry.policies()
    res = recsim.simulate(_trace(), "mru", capacity=3, ways=0)
    # MRU on the loop 0 1 2 0 3 1 with 3 slots: hand-computed 25 hits of 60
    assert res.misses + res.hits == 60 and res.hits != recsim.simulate(
        _trace(), "lru", capacity=3, ways=0).hits
    assert FIXTURES / "mru_policy.py" in kernel_files(registry.get_policy("mru").module,
                                                      "recsim.prefetchers.none")


def test_same_plugin_file_at_two_paths_gets_two_loops(tmp_path):
    # the generated loop imports the plug-in by a name that follows its path: a kernel
    # cache filled from one checkout must not serve a copy at another path
    paths = [tmp_path / d / "plugins" / "mru_policy.py" for d in "ab"]
    for p in paths:
        p.parent.mkdir(parents=True)
        shutil.copy(FIXTURES / "mru_policy.py", p)
    none = registry.get_prefetcher("none")
    loops = {kernel_path(registry._file_module(p).POLICY, none, frozenset()) for p in paths}
    assert len(loops) == 2


@pytest.mark.parametrize("name, message", [
    ("duplicate_lru.py", "policy 'lru' is already defined by"),
    ("unimportable.py", "failed to import: ModuleNotFoundError"),
    ("no_such_file.py", "expected an existing Python file")])
def test_plugin_file_errors_name_the_file(name, message):
    with pytest.raises(ConfigError) as err:
        registry.load_plugin_files([FIXTURES / name])
    text = str(err.value)
    assert name in text and message in text and "\n" not in text
    assert "lru" in registry.policies()  # the registry still works


def test_cli_plugin_option(capsys, tmp_path):
    assert main(["--plugin", str(FIXTURES / "mru_policy.py"), "policies"]) == 0
    assert "mru " in capsys.readouterr().out
    assert main(["--plugin", str(FIXTURES / "unimportable.py"), "policies"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("recsim: error: plug-in") and "unimportable.py" in err
    assert len(err.splitlines()) == 1


class _EntryPoint:
    def __init__(self, name, value, load):
        self.name, self.value, self.load = name, value, load


def test_broken_entry_point_warns_and_the_rest_stays(monkeypatch, capsys):
    def boom():
        raise ImportError("no module named nowhere")

    lru = registry.get_policy("lru")
    fake = {"recsim.policies": [_EntryPoint("bad", "nowhere:POLICY", boom)]}
    monkeypatch.setattr(registry, "entry_points", lambda group: fake.get(group, []))
    registry._entry_point_plugins.cache_clear()
    registry.policies.cache_clear()
    try:
        assert main(["policies"]) == 0 and main(["policies"]) == 0
        out, err = capsys.readouterr()
        assert err.count("recsim: warning: entry point 'bad = nowhere:POLICY'") == 1  # once
        assert "lru " in out
        fake["recsim.policies"] = [_EntryPoint("dup", "x:POLICY", lambda: lru),
                                   _EntryPoint("dup2", "y:POLICY", lambda: registry.Policy(
                                       "lru", "another", lru.make_state, lru.victim))]
        registry._entry_point_plugins.cache_clear()
        registry.policies.cache_clear()
        with pytest.raises(ConfigError, match="'dup2 = y:POLICY': policy 'lru' is already"):
            registry.policies()
    finally:
        registry._entry_point_plugins.cache_clear()
        registry.policies.cache_clear()


def test_trace_entry_points_add_generators_and_formats(monkeypatch, tmp_path, capsys):
    """Group ``recsim.traces``: a module with ``generate`` is a generator (CLI ``trace
    gen``, YAML ``generate:``), one with ``read`` a format (``--format``, file names); a
    name taken twice is one line naming the entry point."""
    import types

    from recsim import traces
    from recsim.experiments.schema import check_experiment, read_yaml

    def generate(path=None, **params):
        trace = recsim.Trace.from_arrays(np.zeros(params["accesses"], np.int32),
                                         np.arange(params["accesses"]) % 7)
        if path is not None:
            traces.save_trace(trace, path)
        return trace

    gen = types.ModuleType("fake_gen")
    gen.NAME, gen.check, gen.generate = "sevens", lambda **p: p, generate
    fmt = types.ModuleType("fake_fmt")
    fmt.NAME, fmt.EXTENSIONS = "sevens_text", (".sevens",)
    fmt.read = lambda path, **opts: generate(accesses=len(Path(path).read_text().split()))
    for module in (gen, fmt):
        monkeypatch.setitem(__import__("sys").modules, module.__name__, module)
    fake = {"recsim.traces": [_EntryPoint("sevens", "fake_gen", lambda: gen),
                              _EntryPoint("sevens_text", "fake_fmt", lambda: fmt)]}
    monkeypatch.setattr(registry, "entry_points", lambda group: fake.get(group, []))

    def reload():
        for fn in (registry._entry_point_plugins, registry.policies, registry.prefetchers,
                   traces.generators, traces.formats):
            fn.cache_clear()

    reload()
    try:
        out = tmp_path / "g.trace"
        assert main(["trace", "gen", "sevens", "-o", str(out), "--accesses", "70"]) == 0
        assert recsim.load_trace(out).n_unique == 7
        (tmp_path / "t.sevens").write_text("a b c")
        assert recsim.load_trace(tmp_path / "t.sevens").n_accesses == 3
        yaml = tmp_path / "e.yaml"
        yaml.write_text("name: g\ntraces: [{name: s, generate: {preset: sevens, accesses: "
                        "50}}]\ncapacities: [0.5]\nways: [0]\npolicies: [lru]\n")
        check_experiment(read_yaml(yaml), yaml)
        fake["recsim.traces"].append(_EntryPoint("zipf", "fake_gen:zipf", lambda: types.
                                                 SimpleNamespace(NAME="zipf", generate=1)))
        reload()
        with pytest.raises(ConfigError, match="'zipf = fake_gen:zipf': trace generator "
                                              "'zipf' is already defined by recsim.traces.zipf"):
            traces.generators()
    finally:
        monkeypatch.undo()
        reload()


def _yaml(tmp_path, plugin: str) -> Path:
    """An experiment in ``tmp_path`` naming the plug-in file ``plugin`` of the fixtures,
    by a path relative to the YAML."""
    plugin = os.path.relpath(FIXTURES / plugin, tmp_path)
    path = tmp_path / "exp.yaml"
    path.write_text(f"""name: plug
plugins: [{plugin}]
traces:
  - name: z
    generate: {{preset: zipf, accesses: 3000, rows: 300}}
capacities: [0.1]
ways: [0]
policies: [lru, mru]
""")
    return path


def test_yaml_plugins_relative_to_the_yaml(tmp_path):
    rows = sweep.run_experiment(_yaml(tmp_path, "mru_policy.py"), output=tmp_path / "out",
                                progress=False, workers=1)
    assert [r["policy"] for r in rows] == ["lru", "mru"]
    with pytest.raises(ConfigError,
                       match=r"exp.yaml: plugins\[0\]: plug-in .*nope.py: expected an existing"):
        sweep.run_experiment(_yaml(tmp_path, "nope.py"), output=tmp_path / "o2",
                             progress=False)


def test_sweep_worker_loads_plugin_files(tmp_path):
    """A fresh (spawned) worker, as on Ray or macOS, loads the plug-in files the task names."""
    exp = sweep.load_experiment(_yaml(tmp_path, "mru_policy.py"))
    prepared = [sweep.prepare_trace(spec, tmp_path, tmp_path / "out") for spec in exp.traces]
    task = [sweep.cell_task(exp, cell, prepared) for cell in sweep.expand(exp)][1]
    assert task["config"]["policy"]["name"] == "mru" and task["plugin_files"]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        row = pool.apply(sweep.run_cell, (task,))
    assert row["policy"] == "mru" and row["accesses"] == 3000


def test_check_policy_catches_a_broken_policy():
    from recsim import testing

    registry.load_plugin_files([FIXTURES / "broken_policy.py"])
    with pytest.raises(ConfigError, match=r"policy broken \(.*broken_policy.py:\d+\): victim "
                                          r"returned slot \d+ at access \d+, outside set") as err:
        testing.check_policy("broken", max_examples=10)  # the engine stops it (issue 31)
    example = "\n".join(getattr(err.value, "__notes__", []))
    # found on the fixed first case, whatever hypothesis would draw (its derandomized
    # draws changed with the modules that earlier tests imported: alone, it first failed
    # on a 32-access per_set case; after a sweep, on a buffer case shrunk for 20 s)
    assert "Failing explicit example" in example and "geometry=(4, 2)" in example
    rows = example.split("rows=(")[1].split(")")[0]
    assert len(rows.split(",")) == len(testing.FIRST_CASE.rows)


def test_the_first_case_evicts_in_both_sets_with_their_traffic_interleaved():
    from recsim.engine.settings import set_index
    from recsim.testing import FIRST_CASE, FIRST_GEOMETRY

    capacity, ways = FIRST_GEOMETRY
    dense = FIRST_CASE.trace().dense()
    sets = set_index(dense.keys, capacity // ways)[dense.vid]  # each access's set
    assert [len(np.unique(dense.vid[sets == s])) for s in (0, 1)] == [4, 4]  # > ways
    assert (np.diff(sets) != 0).sum() >= len(sets) // 3  # the sets take turns


def test_wrong_hook_signature_is_one_line_naming_file_and_hook_before_compiling(
        capsys, tmp_path, monkeypatch):
    trace = tmp_path / "t.trace"
    recsim.traces.save_trace(_trace(), trace, "native")
    ran = []  # the command (which would compile the loop) never starts
    monkeypatch.setattr(recsim.cli, "cmd_simulate", lambda args: ran.append(args))
    path = FIXTURES / "wrong_on_hit.py"
    assert main(["--plugin", str(path), "simulate", "--trace", str(trace), "--policy",
                 "wrong_hit", "--capacity", "3"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and not ran
    assert err.startswith(f"recsim: error: {path}:") and "hook on_hit takes (state, set_, " \
        "slot, vid); expected (state, set_, slot, vid, t, prio)" in err
    assert "wrong_hit" not in registry.policies()


def _hook(a, b, c, d=0):
    return 0


@pytest.mark.parametrize("make", [
    lambda: registry.Policy("p", "", _hook, victim=_hook),  # victim takes 7
    lambda: registry.Policy("p", "", lambda ctx: 0, victim=registry.get_policy("lru").victim),
    lambda: registry.Prefetcher("f", "", lambda ctx, params: 0, on_evict=lambda s, v: 0),
    lambda: registry.Prefetcher("f", "", lambda ctx, params: 0, on_access=_hook)])
def test_hook_signatures_checked_on_construction(make):
    with pytest.raises(ConfigError, match=r"^\S+\.py:\d+: (policy 'p'|prefetcher 'f'): hook "
                       r"(victim|make_state|on_evict|on_access) takes \(.*\); expected \("):
        make()


def test_hooks_may_name_parameters_their_way_and_take_defaults():
    def on_evict(s, v, when, extra=None):
        pass

    registry.Prefetcher("f", "", lambda ctx, params: 0, on_evict=on_evict)


def test_entry_point_with_a_wrong_signature_warns_naming_the_hook(monkeypatch, capsys):
    def load():
        return registry._file_module(FIXTURES / "wrong_on_hit.py").POLICY

    fake = {"recsim.policies": [_EntryPoint("wrong", "wrong:POLICY", load)]}
    monkeypatch.setattr(registry, "entry_points", lambda group: fake.get(group, []))
    registry._entry_point_plugins.cache_clear()
    registry.policies.cache_clear()
    try:
        assert main(["policies"]) == 0
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "wrong_on_hit.py" in err and "on_hit" in err
    finally:
        registry._entry_point_plugins.cache_clear()
        registry.policies.cache_clear()


def test_undeclared_cross_set_state_fails_check_policy_at_its_defaults():
    from recsim.testing import check_policy

    registry.load_plugin_files([FIXTURES / "global_counter.py"])
    with pytest.raises(AssertionError, match="check 'per_set' of policy 'global_rr'"):
        check_policy("global_rr")


def test_a_broken_policy_fails_exactly_the_named_check_it_breaks():
    from recsim import testing

    registry.load_plugin_files([FIXTURES / "global_counter.py", FIXTURES / "narrow_params.py"])
    failed = set()
    for name in ("global_rr", "narrow_params"):  # lru passes them all: test_conformance
        for check in testing.plugin_checks("policy", name, max_examples=12):
            try:
                check()
            except (AssertionError, ValueError):
                failed.add((name, check.check))
    assert failed == {("global_rr", "per_set"), ("narrow_params", "param_ranges")}


def test_checks_are_named_and_skips_declared_with_a_reason(monkeypatch):
    from recsim import testing

    checks = testing.plugin_checks("policy", "drrip")
    assert [c.check for c in checks] == list(testing.CHECKS["policy"])
    assert {c.check: c.skip for c in checks if c.skip} == {
        "per_set": "cross_set=True: its state spans sets"}
    lru = registry.get_policy("lru")
    odd = registry.Policy("odd", "", lru.make_state, lru.victim,
                          skip_checks={"belady": "it is the optimum"})
    monkeypatch.setitem(registry.policies(), "odd", odd)
    assert testing.plugin_checks("policy", "odd")[-1].skip == "it is the optimum"
    mark = testing.parametrize_with_checks(["odd"], prefetchers=["next_n"])
    ids = [p.id for p in mark.args[1]]
    assert ids[:2] == ["odd-param_ranges", "odd-buffer"] and "next_n-chunked" in ids
    bad = registry.Policy("bad", "", lru.make_state, lru.victim, skip_checks={"nope": "?"})
    monkeypatch.setitem(registry.policies(), "bad", bad)
    with pytest.raises(ConfigError, match="policy 'bad': skip_checks names no check 'nope'"):
        testing.plugin_checks("policy", "bad")


def test_checks_keep_their_own_small_buffer_warnings_quiet():
    import warnings

    from recsim.errors import RecsimWarning
    from recsim.testing import check_policy

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_policy("lru", max_examples=8)  # draws capacity < ways and capacity >= vectors
    assert not [w for w in caught if issubclass(w.category, RecsimWarning)]
