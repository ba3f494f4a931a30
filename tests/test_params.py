"""Typed plug-in parameters (``recsim.plugin``'s Int, Float, Bool, Choice): one check for the
Python API, YAML and the command line (whose values arrive as ``Text``), one-line errors
that name the plug-in, the parameter, its type and its range."""

import pytest

import recsim
from recsim.errors import ConfigError
from recsim.plugin import Bool, Choice, File, Float, Int, Text
from recsim.registry import get_policy, policies, prefetchers, resolve_params
from recsim.traces.trace import Trace

BOOL = "expected a boolean: true or false (on the command line also yes/no, 1/0)"


def _srrip(value):
    return resolve_params("policy", get_policy("srrip"), {"rrpv_bits": value})["rrpv_bits"]


def _bypass(value):
    return resolve_params("policy", get_policy("belady"), {"bypass": value})["bypass"]


@pytest.mark.parametrize("text, value", [("true", True), ("YES", True), ("1", True),
                                         ("False", False), ("no", False), (" 0 ", False)])
def test_command_line_booleans(text, value):
    assert _bypass(Text(text)) is value


@pytest.mark.parametrize("value", [Text("maybe"), Text("2"), Text(""), "maybe", "true", 1, 0,
                                   None, 0.0])
def test_anything_else_is_no_boolean(value):
    got = str(value) if isinstance(value, Text) else repr(value)
    with pytest.raises(ConfigError) as info:
        _bypass(value)
    assert str(info.value) == f"policy 'belady': parameter 'bypass': {BOOL}, got {got}"


def test_integers():
    assert _srrip(Text("4")) == 4 and type(_srrip(Text("4"))) is int
    assert _srrip(7) == 7
    for bad, got in [(Text("1.5"), "1.5"), (1.5, "1.5"), (4.0, "4.0"), ("4", "'4'"),
                     (True, "True"), (Text("8"), "8"), (0, "0"), (Text("x"), "x")]:
        with pytest.raises(ConfigError) as info:
            _srrip(bad)
        assert str(info.value) == ("policy 'srrip': parameter 'rrpv_bits': expected an "
                                   f"integer in [1, 7], got {got}")


def test_yaml_path_prefix_and_api():
    with pytest.raises(ConfigError, match=r"^policies\[3\]\.params\.rrpv_bits: policy 'srrip': "
                       r"expected an integer in \[1, 7\], got 1\.5$"):
        resolve_params("policy", get_policy("srrip"), {"rrpv_bits": 1.5},
                       where="policies[3].params")
    trace = Trace.from_arrays([0, 0], [0, 1])
    with pytest.raises(ConfigError) as info:
        recsim.simulate(trace, "belady", 1, policy_params={"bypass": "maybe"})
    assert str(info.value) == f"policy 'belady': parameter 'bypass': {BOOL}, got 'maybe'"
    with pytest.raises(ConfigError, match="^policy 'srrip': parameter 'rrpv_bits'"):
        recsim.simulate(trace, "srrip", 1, policy_params={"rrpv_bits": 1.5})


def test_floats_and_choices():
    spec = Float(0.5, lo=0, hi=1, open_lo=True)
    assert spec.convert(Text("1e-1")) == 0.1 and spec.convert(1) == 1.0
    assert [spec.convert(v) for v in (0, 1.5, float("nan"), True, "0.5", Text("x"))] == [None] * 6
    assert spec.expected() == "a number in (0, 1]"
    assert Float(1.0, lo=0).expected() == "a finite number >= 0"
    choice = Choice("miss", ("miss", "access"))
    assert choice.convert(Text("access")) == "access" and choice.convert(Text("a")) is None
    assert type(choice.convert(Text("access"))) is str
    assert choice.convert(1) is None and choice.expected() == "one of 'miss', 'access'"
    assert Int(8, lo=2, hi=32, pow2=True).convert(24) is None
    assert Int(8, lo=2, hi=32, pow2=True).expected() == "a power of two in [2, 32]"
    assert Bool(False).convert(True) is True


def test_every_plugin_declares_typed_documented_defaults():
    for plugin in [*policies().values(), *prefetchers().values()]:
        kind = "policy" if plugin in policies().values() else "prefetcher"
        required = {n: "m.pt" for n, spec in plugin.params.items() if spec.default is None}
        assert all(isinstance(plugin.params[n], File) for n in required)  # a model's file
        resolved = resolve_params(kind, plugin, required)
        for name, spec in plugin.params.items():
            assert isinstance(spec, (Int, Float, Bool, Choice, File)) and spec.help, \
                (plugin.name, name)
            assert resolved[name] == required.get(name, spec.default)
