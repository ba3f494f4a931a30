"""The engine's internal contracts (issue 31): the replay settings declared once, a victim
outside its set stopped with one line, prefetch counts consistent under ``eval_after``,
and no function in ``recsim/`` over 60 lines."""

import argparse
import ast
import inspect
import typing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recsim
from recsim import registry
from recsim.cli import build_parser, main
from recsim.engine.replay import Advice, loop_features, loop_options, simulate
from recsim.engine.settings import ReplaySettings, declared
from recsim.errors import ConfigError
from recsim.experiments.schema import AXIS_SETTINGS, Experiment
from recsim.testing import SETTINGS, check_policy, check_span_prefetches
from recsim.traces import Trace, save_trace

ROOT = Path(__file__).resolve().parents[1]


# -- one declaration of the replay settings -----------------------------------------------

def _simulate_flags() -> dict:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["simulate"]._actions}


def test_cli_flags_are_the_declared_settings():
    """``recsim simulate`` has one flag per setting, with its default and help."""
    flags = _simulate_flags()
    for name, (default, how) in declared().items():
        flag = flags[name]
        dashed = name.replace("_", "-")
        negated = [f"--no-{dashed}"] if isinstance(flag, argparse.BooleanOptionalAction) else []
        assert flag.option_strings == [f"--{dashed}", *negated]
        assert (flag.default, flag.help) == (default, how.help)
    assert flags["capacity"].required and flags["ways"].type is int


def test_yaml_keys_are_the_declared_settings():
    """The experiment schema has a key per setting: a list for a sweep axis (its default
    the setting's; one value is an axis of one), else a scalar of the setting's name and
    type."""
    fields = Experiment.model_fields
    hints = typing.get_type_hints(ReplaySettings)
    axes = dict(AXIS_SETTINGS)
    assert set(axes.values()) == {n for n, (_, how) in declared().items() if how.axis}
    for name, (default, how) in declared().items():
        key = how.axis or name
        assert fields[key].annotation == (list[hints[name]] if how.axis else hints[name])
        assert fields[key].default == ([default] if how.axis else default)
    exp = Experiment(name="x", traces=[{"name": "t", "path": "t.trace"}], ways=[4],
                     eval_after=7, prefetch_budget=3)
    assert exp.settings(capacity=0.2, ways=4, seed=0) == ReplaySettings(
        capacity=0.2, ways=4, eval_after=7, prefetch_budget=3)
    one = Experiment(name="x", traces=[{"name": "t", "path": "t.trace"}], ways=4, sample=0.5)
    assert (one.ways, one.sample, one.seeds) == ([4], [0.5], [0])


def test_simulate_takes_every_declared_setting_by_keyword():
    """``simulate``'s explicit settings keep the declared defaults; every other setting
    is a keyword, and a misspelt one is one line naming the settings."""
    sig = inspect.signature(simulate)
    for name in ("capacity", "ways"):
        assert sig.parameters[name].default == declared()[name][0]
    assert sig.parameters["settings"].kind is inspect.Parameter.VAR_KEYWORD
    trace = Trace.from_arrays(np.zeros(50, np.int32), np.arange(50) % 7, [0, 50])
    kw = {name: 1 for name in declared() if name not in ("capacity", "ways")}
    result = recsim.simulate(trace, "lru", 4, 0, **{**kw, "dedup": None, "training_sets": True})
    # a sampled replay records sample, salt and training_sets in params["sample"] (rate 1:
    # a full replay)
    kept = [k for k in kw if k not in ("dedup", "sample", "salt", "training_sets")]
    assert {k: result.params[k] for k in kept} == {k: 1 for k in kept}
    assert "sample" in kw and "salt" in kw
    with pytest.raises(ConfigError, match="simulate: unknown setting 'eval_afer'; the replay "
                                          "settings are capacity, ways, "):
        recsim.simulate(trace, "lru", 4, eval_afer=3)
    with pytest.raises(TypeError):
        ReplaySettings(0.1, 8)  # keyword-only: never built by position


def test_loop_kind_and_refusals_come_from_one_decision():
    s = ReplaySettings(capacity=10, ways=4)
    assert loop_features(loop_options(s), 2) == frozenset()
    assert loop_features(loop_options(s, "next_n", chunk=5), 1) == frozenset({"ONE_SET"})
    for general in (dict(statistics=True), dict(advice=Advice(priority=[0.0]))):
        assert loop_features(loop_options(s, **general), 2) == frozenset({"GENERAL"})
    trace = Trace.from_arrays(np.zeros(50, np.int32), np.arange(50) % 7, [0, 50])
    with pytest.raises(ConfigError, match="chunk: .* this one has fetch_latency$"):
        recsim.simulate(trace, "lru", 4, 0, chunk=10, fetch_latency=1)
    with pytest.raises(ConfigError, match="fbgemm_lru: it replays whole batches, so it takes "
                                          "no prefetcher, eval_after$"):
        recsim.simulate(trace, "fbgemm_lru", 4, 32, prefetcher="next_n", eval_after=3)


# -- a victim outside its set --------------------------------------------------------------

BAD_VICTIM = '''
from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook

State = namedtuple("State", "unused")


def make_state(ctx, params):
    return State(np.zeros(1, np.int64))


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    return base + ways


POLICY = Policy("next_set_victim", "evicts from the next set (a bug)", make_state, victim)
'''


@pytest.fixture(scope="module")
def bad_victim(tmp_path_factory):
    folder = tmp_path_factory.mktemp("victim")
    (folder / "next_set_victim.py").write_text(BAD_VICTIM)
    rng = np.random.default_rng(0)
    save_trace(Trace.from_arrays(np.zeros(5000, np.int32), rng.integers(0, 300, 5000),
                                 np.arange(0, 5001, 100)), folder / "t.trace")
    return folder


def test_a_victim_outside_its_set_is_one_line_in_simulate(bad_victim, capsys):
    """On a 5K-access trace it used to exit 0 with a wrong hit rate (a bus error on a
    larger one): now one line names the plug-in, the hook, its file and the slot."""
    code = main(["--plugin", str(bad_victim / "next_set_victim.py"), "simulate", "--trace",
                 str(bad_victim / "t.trace"), "--policy", "next_set_victim", "--capacity",
                 "64", "--ways", "8"])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if not line.startswith("recsim: compiling")]
    assert code == 2 and out == "" and len(lines) == 1
    assert lines[0].startswith(f"recsim: error: policy next_set_victim ({bad_victim}"
                          f"/next_set_victim.py:15): victim returned slot ")
    slot = int(err.split("slot ")[1].split()[0])
    assert slot % 8 == 0 and f"slots {slot - 8}..{slot - 1} (or -1 to bypass)" in err


def test_a_victim_outside_its_set_fails_check_policy(bad_victim):
    registry.load_plugin_files([bad_victim / "next_set_victim.py"])
    with pytest.raises(ConfigError, match=r"^policy next_set_victim \(.*next_set_victim.py:15\)"
                                          r": victim returned slot \d+ at access"):
        check_policy("next_set_victim", max_examples=5)


# -- prefetch counts under eval_after ------------------------------------------------------

# the learned ones need a model: tests/test_recmg_plugins.py
PREFETCHERS = sorted(set(registry.prefetchers()) - {"none", "recmg", "transfetch"})


@pytest.mark.parametrize("prefetcher", PREFETCHERS)
@settings(**SETTINGS, max_examples=12)
@given(data=st.data())
def test_useful_prefetches_are_at_most_those_issued_under_eval_after(prefetcher, data):
    """Counted from access N on, every prefetch issued in the span ends useful, unused or
    pending, so useful <= issued (Berti on Amazon Video used to show 12,366 useful of
    12,350 issued: prefetches issued before N and used after it)."""
    n = data.draw(st.integers(200, 1500))
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    trace = Trace.from_arrays(rng.integers(0, 3, n), rng.zipf(1.2, n) % 200,
                              np.arange(0, n + 1, 50).tolist() + ([n] if n % 50 else []))
    kw = dict(prefetcher=prefetcher, capacity=data.draw(st.integers(8, 64)),
              ways=data.draw(st.sampled_from([0, 4])),
              prefetch_latency=data.draw(st.integers(0, 8)),
              fetch_latency=data.draw(st.sampled_from([0, 2])),
              eval_after=data.draw(st.integers(1, n - 1)))
    check_span_prefetches(recsim.simulate(trace, "lru", **kw).counts)


def test_eval_after_zero_counts_every_prefetch():
    """Without eval_after the prefetch counts are those the replay always gave."""
    rng = np.random.default_rng(1)
    trace = Trace.from_arrays(rng.integers(0, 3, 2000), rng.zipf(1.2, 2000) % 200,
                              np.arange(0, 2001, 50))
    c = recsim.simulate(trace, "lru", 32, 4, "next_n", prefetch_latency=3).counts
    assert c["prefetches_useful"] == c["prefetch_hits"] + c["late_prefetches"] > 0


# -- function length ----------------------------------------------------------------------

LOOP_TEMPLATE = ("recsim/engine/loop.py", "replay")  # generated per pair by code


def _long_functions(limit: int = 60) -> set:
    found = set()
    for path in sorted((ROOT / "recsim").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and node.end_lineno - node.lineno + 1 > limit):
                found.add((path.relative_to(ROOT).as_posix(), node.name))
    return found


def test_no_function_in_recsim_is_over_60_lines():
    long = _long_functions()
    assert LOOP_TEMPLATE in long, "the loop template moved: update LOOP_TEMPLATE"
    assert long - {LOOP_TEMPLATE} == set(), "split these functions"
