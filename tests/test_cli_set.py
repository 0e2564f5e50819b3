"""``olc run``: ``--set`` parsing of every Config field, figure failures and unwritable ``--out``."""

import dataclasses
import json
import os
import types
import typing

import pytest

from olc.cli import main
from olc.experiments import get, make_config, registry

NONE = type(None)


def _members(hint):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _as_set_string(value) -> str:
    """How a user writes ``value`` on the command line."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


#: a sensible command-line string for each type a union member can have, and the expected result
SAMPLES = {int: ("3", 3), float: ("0.5", 0.5), tuple: ("3,10", (3.0, 10.0)), NONE: ("none", None)}


def _fields():
    for name in sorted(registry()):
        module = get(name)
        hints = typing.get_type_hints(module.Config)
        for f in dataclasses.fields(module.Config):
            yield pytest.param(module, f.name, hints[f.name], id=f"{name}.{f.name}")


@pytest.mark.parametrize("module, key, hint", list(_fields()))
def test_every_config_field_parses_its_default_back(module, key, hint):
    default = getattr(module.Config(), key)
    cfg = make_config(module, {key: _as_set_string(default)})
    value = getattr(cfg, key)
    assert value == default
    assert isinstance(value, tuple(m for m in _members(hint) if typing.get_origin(m) is None)
                      + tuple(typing.get_origin(m) for m in _members(hint) if typing.get_origin(m)))
    if isinstance(value, (list, tuple)):  # element types survive: ints stay ints, floats floats
        assert [type(v) for v in value] == [type(v) for v in default]


@pytest.mark.parametrize("module, key, hint",
                         [p for p in _fields() if len(_members(p.values[2])) > 1])
def test_every_member_of_a_union_field_parses(module, key, hint):
    for member in _members(hint):
        text, expected = SAMPLES[typing.get_origin(member) or member]
        value = getattr(make_config(module, {key: text}), key)
        assert value == expected and type(value) is type(expected), (key, text, value)


@pytest.mark.parametrize("name, key, value, result", [
    ("gpc-vs-lqr", "bandit_lr", "0.5", 0.5),
    ("metamd-quadratic", "unroll_tol", "0.001", 0.001),
    ("metamd-quadratic", "unroll_tol", "None", None),
    ("metamd-quadratic", "ablation_horizon", "10", 10),
    ("metamd-quadratic", "k", "3,10", (3.0, 10.0)),
    ("metamd-quadratic", "k", "3", 3.0),
    ("metamd-quadratic", "meta_lr", "1e-4, 2.5e-7", (1e-4, 2.5e-7)),
    ("gpc-vs-lqr", "systems", "pendulum,double-integrator", ["pendulum", "double-integrator"]),
    ("fobmaml-regression", "outer_lrs", "0.1,1", [0.1, 1.0]),
])
def test_audited_set_values_convert(name, key, value, result):
    assert getattr(make_config(get(name), {key: value}), key) == result


def test_optional_field_runs_with_a_value(tmp_path):
    rc = main(["run", "gpc-vs-lqr", "--set", "bandit_lr=0.5", "--set", "T=20", "--set", "systems=double-integrator",
               "--set", "disturbances=gaussian", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    assert json.load(open(tmp_path / "results.json"))["config"]["bandit_lr"] == 0.5


@pytest.mark.parametrize("name, setting, words", [
    ("metamd-quadratic", "k=3,abc", ["k", "3,abc", "number"]),
    ("metamd-quadratic", "unroll_tol=abc", ["unroll_tol", "abc", "none"]),
    ("oco-regret", "radius=abc", ["radius", "abc", "number"]),
    ("fobmaml-regression", "inner_steps=1,x", ["inner_steps", "1,x", "integer"]),
    ("metaopt-quadratic", "resample=maybe", ["resample", "maybe", "boolean"]),
])
def test_unparseable_values_name_key_value_and_expectation(tmp_path, capsys, name, setting, words):
    assert main(["run", name, "--set", setting, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "o").exists()  # nothing created for a run that never started


def _small_oco(tmp_path, *extra):
    return ["run", "oco-regret", "--set", "T=30", "--set", "seeds=1", "--out", str(tmp_path), "--quiet", *extra]


def test_figure_failure_warns_after_saving_results(tmp_path, capsys, monkeypatch):
    module = get("oco-regret")

    def broken_plot(results, outdir):
        raise RuntimeError("boom in plotting")

    monkeypatch.setattr(module, "plot", broken_plot)
    rc = main(_small_oco(tmp_path))
    assert rc == 3
    assert json.load(open(tmp_path / "results.json"))["results"]["rows"]
    captured = capsys.readouterr()
    assert "oco-regret" in captured.err and "boom in plotting" in captured.err and "RuntimeError" in captured.err
    assert "regret after T=30" in captured.out  # the summary still prints


def test_unusable_out_directory_is_a_clear_error(capsys):
    assert main(["run", "oco-regret", "--set", "T=30", "--out", "/proc/nope/sub", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("olc: error: --out /proc/nope/sub") and "Traceback" not in err


def test_results_are_not_lost_when_results_json_cannot_be_written(tmp_path, capsys, monkeypatch):
    (tmp_path / "results.json").mkdir()  # the directory exists and is writable, the file is not
    monkeypatch.setenv("TMPDIR", str(tmp_path / "fallback"))
    os.makedirs(tmp_path / "fallback")
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert main(_small_oco(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "olc: error: --out" in err and "results.json" in err
    saved = [p for p in os.listdir(tmp_path / "fallback") if p.endswith(".json")]
    assert len(saved) == 1 and saved[0] in err
    assert json.load(open(tmp_path / "fallback" / saved[0]))["results"]["rows"]
