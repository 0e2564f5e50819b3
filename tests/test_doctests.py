"""The ``Examples`` of olc's docstrings run as doctests (issue 15: doctested examples that CI runs).

Every module's docstrings are run with ``ELLIPSIS | NORMALIZE_WHITESPACE`` and fixed numpy print
options (4 digits, no scientific noise, numpy-1 style scalar reprs), skipping modules whose optional
dependency is missing. Each converted public module or subpackage in ``NEEDS_EXAMPLE`` must hold at
least one example. Examples are tiny and seeded: the whole run takes seconds.
"""

from __future__ import annotations

import doctest
import importlib.util
import os

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("_olc_docstring_checks", os.path.join(os.path.dirname(__file__),
                                                                                       "test_docstrings.py"))
_checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_checks)  # the module enumeration and optional-dependency skips, shared
import_or_skip, module_names = _checks.import_or_skip, _checks.module_names

#: modules (or subpackages: any of their modules counts) that must carry at least one doctested example
NEEDS_EXAMPLE = [
    "olc.game", "olc.sets", "olc.losses", "olc.errors", "olc.optim", "olc.systems", "olc.provenance",
    "olc.backend", "olc.testing", "olc.sweeps", "olc.plot", "olc.oracles", "olc.tasks", "olc.torch",
    "olc.comparators", "olc.kernels", "olc.learners", "olc.systems.control", "olc.meta", "olc.games",
    "olc.experiments",
]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_NUMPY2 = int(np.__version__.split(".")[0]) >= 2
PRINT = dict(precision=4, suppress=True, linewidth=88, **({"legacy": "1.25"} if _NUMPY2 else {}))


def _examples(module) -> list[doctest.DocTest]:
    return [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, module.__name__) if t.examples]


@pytest.mark.parametrize("name", module_names(pending=True))
def test_doctests(name):
    module = import_or_skip(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    with np.printoptions(**PRINT):
        for test in _examples(module):
            test.globs.update({"np": np})
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples of {name} failed (see stdout)"


@pytest.mark.parametrize("name", NEEDS_EXAMPLE)
def test_has_an_example(name):
    names = [n for n in module_names(pending=True) if n == name or n.startswith(name + ".")]
    assert names, f"no module {name}"
    count = sum(len(t.examples) for n in names for t in _examples(import_or_skip(n)))
    assert count > 0, f"{name} has no doctested example: add an Examples section to its main entry point"
