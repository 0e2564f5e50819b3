"""Conformance checks for olc learners: :func:`check_learner` and :func:`learner_checks`.

Like scikit-learn's ``check_estimator``, this checks a learner against the protocol of
:mod:`olc.game` (``init(shape, rng, horizon=None, *, x0=None) -> state``, ``decide(state, obs, rng)
-> (decision, state)``, ``update(state, feedback) -> state``, hyperparameters on the object and
nothing else). ``tests/test_common.py`` runs it on every learner :mod:`olc.learners` exports; run
it on your own learner before you publish it::

    report = olc.testing.check_learner(MyLearner, game, bad={"lr": -1.0})

Each check plays a few short games (``T`` rounds) of ``game``; they are:

* ``signature`` — ``init`` has the one signature ``init(shape, rng, horizon=None, *, x0=None)``
  (``rng`` may default to None), ``decide(state, obs, rng)``, ``update(state, feedback)``, and
  ``feedback`` is one of ``"bandit"``, ``"gradient"``, ``"full"``;
* ``state_type`` — ``init``, ``decide`` and ``update`` return the same state type every round;
* ``no_mutation`` — ``init`` and :func:`olc.play` leave the learner's attributes unchanged: one
  object played in games of two horizons plays the second one like a fresh object;
* ``deterministic`` — the same seed gives the same trace (bit for bit); the learner draws its
  randomness only from the generator it is given: with the environment's stream fixed, another
  learner stream changes the decisions exactly when the learner draws from it;
* ``continuation`` — a game interrupted after ``T // 2`` rounds and resumed from its checkpoint (:func:`olc.play`'s
  ``checkpoint=``/``resume=``, the learner state is saved and played on) equals one uninterrupted play;
* ``feedback_alone`` — it plays a game that reveals only its declared ``feedback`` kind;
* ``divergence`` — a NaN gradient (a NaN loss value for ``"bandit"`` and ``"full"`` learners, which
  may not read the gradient) in round ``k`` raises
  :class:`~olc.errors.DivergenceError` whose ``partial`` trace holds the ``k`` rounds before it;
* ``pickle`` — the learner and its states survive a pickle round trip and play on identically;
* ``bad_hyperparameters`` — each ``bad`` value (``{name: value}``, plus :data:`COMMON_BAD` for the names the learner's
  constructor has) raises :class:`~olc.errors.InvalidArgumentError` naming the parameter;
* ``docstring`` — the class docstring cites its algorithm (an algorithm, equation or theorem
  number, or an author–year reference) and mentions every constructor argument;
* ``repr`` — ``repr(learner)`` is ``ClassName(arg=value, ...)`` with every constructor argument.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import pickle
import re
import tempfile
from collections.abc import Callable

import numpy as np

from .errors import DivergenceError, InvalidArgumentError, OlcError
from .game import FEEDBACK_KINDS, Trace, play

__all__ = ["check_learner", "learner_checks", "CheckReport", "ConformanceError", "default_game", "COMMON_BAD",
           "CHECKS"]

#: the checks, in the order they run
CHECKS = ("signature", "state_type", "no_mutation", "deterministic", "continuation", "feedback_alone",
          "divergence", "pickle", "bad_hyperparameters", "docstring", "repr")

#: constructor arguments that mean the same in every olc learner, with a value each must refuse
COMMON_BAD = {"lr": -1.0, "eps": -1.0, "delta": -1.0, "H": 0, "memory": 0, "inner_lr": -1.0, "inner_steps": 0,
              "meta_lr": -1.0, "update_lr": -1.0, "update_steps": 0, "steps": 0, "clip": -1.0, "S": 0}

_CITATION = re.compile(r"\b(?:Alg(?:orithm)?s?\.?\s*\d|[Ee]qs?\.\s*\(?\d|[Ee]quation|Thm\.|Theorem|Cor\.|"
                       r"Sec\.\s*\d|App\.\s*[A-Z]|et al\.|arXiv|\(\d{4}\)|\d{4}\b)")


class ConformanceError(AssertionError, OlcError):
    """A learner failed conformance checks.

    Parameters
    ----------
    report : CheckReport
    """

    def __init__(self, report: CheckReport):
        super().__init__(str(report))
        self.report = report


class ConformanceSkip(Exception):
    """A conformance check that does not apply to this learner or game (the message says why)."""


@dataclasses.dataclass
class CheckReport:
    """The outcome of :func:`check_learner`.

    Parameters
    ----------
    learner : str
    results : dict
        Maps a check name to ``"ok"``, ``"skipped: why"`` or ``"FAILED: why"``.
    """

    learner: str
    results: dict

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> dict:
        return {k: v for k, v in self.results.items() if v.startswith("FAILED")}

    def __str__(self):
        lines = [f"{self.learner}: {len(self.results) - len(self.failures)}/{len(self.results)} checks passed"]
        lines += [f"  {k}: {v}" for k, v in self.results.items()]
        return "\n".join(lines)


class _Skip(Exception):
    """A check that does not apply (the message says why)."""


class _Stop(Exception):
    """Raised by the probe to interrupt a game (the continuation check)."""


# --------------------------------------------------------------------------------------------- probes
class _Probe:
    """Plays ``learner`` for :func:`play`, recording the state types and whether it drew from its
    generator; ``rng`` replaces the learner stream play passes, ``stop_at`` interrupts round k."""

    def __init__(self, learner, rng=None, stop_at=None):
        self._learner, self._rng, self._stop_at, self._given = learner, rng, stop_at, None
        self.types, self.drew, self._t = [], False, 0

    def __getattr__(self, name):  # feedback, memory, ... of the learner (only for names not set here)
        return getattr(self.__dict__["_learner"], name)

    def _call(self, fn, rng, *args, **kw):
        before = _rng_position(rng)
        out = fn(*args, **kw)
        if _rng_position(rng) != before:
            self.drew = True
        return out

    def init(self, shape, rng, horizon=None, **kw):
        rng = self._rng if self._rng is not None else rng
        self._given = rng  # a learner may keep its generator in its state and draw in update
        state = self._call(self._learner.init, rng, shape, rng, horizon=horizon, **kw)
        self.types.append(type(state))
        return state

    def decide(self, state, obs, rng):
        if self._t == self._stop_at:
            raise _Stop
        self._t += 1
        rng = self._rng if self._rng is not None else rng
        x, state = self._call(self._learner.decide, rng, state, obs, rng)
        self.types.append(type(state))
        return x, state

    def update(self, state, feedback):
        state = self._call(self._learner.update, self._given, state, feedback)
        self.types.append(type(state))
        return state


class _Env:
    """Delegates to an environment; ``kind`` reveals only that feedback kind, ``nan_at`` corrupts
    round k's gradient (or its value, for ``nan="value"``)."""

    def __init__(self, env, kind=None, nan_at=None, nan="grad"):
        self._env, self._kind, self._nan_at, self._nan = env, kind, nan_at, nan
        if kind is not None:
            self.feedback = kind

    def __getattr__(self, name):
        return getattr(self.__dict__["_env"], name)

    def step(self, t, decision):
        fb = self._env.step(t, decision)
        if self._kind is not None:
            fb = fb.restrict(self._kind)
        if t == self._nan_at:
            if self._nan == "grad" and fb.grad is not None:
                fb = dataclasses.replace(fb, grad=np.full(np.shape(fb.grad), np.nan))
            else:
                fb = dataclasses.replace(fb, value=float("nan"))
        return fb


# --------------------------------------------------------------------------------------------- helpers
def _rng_position(rng):
    """What drawing from ``rng`` or spawning children of it changes."""
    if rng is None:
        return None
    seq = getattr(rng.bit_generator, "seed_seq", None)
    return copy.deepcopy(rng.bit_generator.state), getattr(seq, "n_children_spawned", None)


def default_game(learner, T: int = 8):
    """A small game for ``learner``: strongly convex quadratics in R^3 revealing full feedback.

    (:func:`olc.games.random_quadratic`; :func:`olc.play` restricts it to ``learner.feedback``.)

    Parameters
    ----------
    learner : learner
    T : int
    """
    from .games import random_quadratic

    return random_quadratic(T, 3, seed=0)


def _same(a, b, depth=0) -> bool:
    """Structural equality of two attribute values (arrays bitwise, objects by their attributes)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], depth + 1) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, (int, float, complex, str, bytes, bool, type(None))):
        return a == b or (a != a and b != b)
    if callable(a) and not hasattr(a, "__dict__"):
        return a == b
    if hasattr(a, "__dict__") and depth < 8:
        return _same(vars(a), vars(b), depth + 1)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable objects: only identity counts
        return False


def _changed(before: dict, after: dict) -> list[str]:
    keys = set(before) | set(after)
    return sorted(k for k in keys if k not in before or k not in after or not _same(before[k], after[k]))


def _same_trace(a: Trace, b: Trace) -> bool:
    return a.decisions.shape == b.decisions.shape and np.array_equal(a.decisions, b.decisions) and \
        np.array_equal(a.losses, b.losses)


def _ctor_params(cls) -> list[inspect.Parameter]:
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return []
    return [p for p in list(sig.parameters.values())[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


class _Case:
    def __init__(self, learner, game, T, bad):
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
            raise InvalidArgumentError(f"T: expected an integer >= 2 (rounds per game), got {T!r}")
        if bad is not None and not isinstance(bad, dict):
            raise InvalidArgumentError(f"bad: expected a dict {{hyperparameter: value}}, got {bad!r}")
        if inspect.isclass(learner) or not all(hasattr(learner, a) for a in ("init", "decide", "update")):
            if not callable(learner):
                raise InvalidArgumentError(f"learner: expected a learner, a learner class or a factory "
                                           f"(callable returning a learner), got {learner!r}")
            self.factory = learner
            example = learner()
        else:
            self.factory = None
            example = learner
        self.example = example
        self.cls = type(example)
        self.name = self.cls.__name__
        self._game = game
        self.T = int(T)
        self.bad = bad

    def learner(self):
        return self.factory() if self.factory is not None else copy.deepcopy(self.example)

    def game(self):
        if self._game is None:
            return default_game(self.example, self.T)
        if callable(self._game) and not hasattr(self._game, "step"):
            return self._game()
        return copy.deepcopy(self._game)

    def play(self, learner=None, game=None, T=None, seed=0, **kw):
        return play(learner if learner is not None else self.learner(), game if game is not None else self.game(),
                    T or self.T, seed=seed, progress=False, **kw)


# --------------------------------------------------------------------------------------------- the checks
def _expect(ok, message: str):
    """An ``AssertionError`` unless ``ok`` (not an ``assert``: the checks must also run under ``python -O``)."""
    if not ok:
        raise AssertionError(message)


def _check_signature(c: _Case):
    lrn = c.example
    kind = getattr(lrn, "feedback", None)
    _expect(kind in FEEDBACK_KINDS, f"feedback: expected one of {FEEDBACK_KINDS}, got {kind!r}")
    params = list(inspect.signature(lrn.init).parameters.values())
    names = [p.name for p in params]
    want = "init(shape, rng, horizon=None, *, x0=None)"
    _expect(names == ["shape", "rng", "horizon", "x0"], f"init{inspect.signature(lrn.init)}: expected {want}")
    shape, rng, horizon, x0 = params
    _expect(shape.default is shape.empty and shape.kind == shape.POSITIONAL_OR_KEYWORD, f"shape: expected {want}")
    _expect(rng.kind == rng.POSITIONAL_OR_KEYWORD and rng.default in (rng.empty, None), f"rng: expected {want}")
    _expect(horizon.default is None and horizon.kind == horizon.POSITIONAL_OR_KEYWORD, f"horizon: expected {want}")
    _expect(x0.kind == x0.KEYWORD_ONLY and x0.default is None, f"x0: expected {want} (x0 keyword-only)")
    for meth, want_names in (("decide", ["state", "obs", "rng"]), ("update", ["state", "feedback"])):
        got = list(inspect.signature(getattr(lrn, meth)).parameters)
        _expect(got == want_names,
                f"{meth}{inspect.signature(getattr(lrn, meth))}: expected {meth}({', '.join(want_names)})")


def _check_state_type(c: _Case):
    probe = _Probe(c.learner())
    c.play(probe)
    kinds = {t.__name__ for t in probe.types}
    _expect(len(set(probe.types)) == 1, f"the state changes type between rounds: {sorted(kinds)}")


def _check_no_mutation(c: _Case):
    lrn = c.learner()
    before = copy.deepcopy(vars(lrn))
    game = c.game()
    lrn.init(tuple(game.shape), np.random.default_rng(0), horizon=c.T, x0=getattr(game, "initial_decision", None))
    changed = _changed(before, vars(lrn))
    _expect(not changed, f"init changed the learner's attributes {changed} (state belongs in the returned state)")
    c.play(lrn)
    short = max(1, c.T // 2)
    second = c.play(lrn, T=short)
    changed = _changed(before, vars(lrn))
    _expect(not changed, f"play changed the learner's attributes {changed}")
    _expect(_same_trace(second, c.play(T=short)),
        f"after a game of {c.T} rounds the same object plays a game of {short} rounds unlike a fresh one")


def _check_deterministic(c: _Case):
    a, b = c.play(seed=1), c.play(seed=1)
    _expect(_same_trace(a, b), "two plays with seed=1 differ")
    traces, drew = [], False
    for s in (1, 2):  # the environment's stream fixed (seed 0), the learner's from another generator
        probe = _Probe(c.learner(), rng=np.random.default_rng(s))
        traces.append(c.play(probe))
        drew |= probe.drew
    if drew:
        _expect(not _same_trace(*traces), "the learner draws from its generator, but two learner streams "
                                         "give the same decisions")
    else:
        _expect(_same_trace(*traces), "the learner never draws from its generator, yet two learner streams "
                                     "give different decisions (randomness from elsewhere?)")


def _check_continuation(c: _Case):
    game = c.game()
    if not (callable(getattr(game, "get_state", None)) and callable(getattr(game, "set_state", None))):
        raise _Skip(f"{type(game).__name__} cannot be checkpointed (no get_state/set_state)")
    k = max(1, c.T // 2)
    whole = c.play(_Probe(c.learner()), seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "game.ckpt")
        try:
            c.play(_Probe(c.learner(), stop_at=k), seed=3, checkpoint=path, every=k)
        except _Stop:
            pass
        resumed = c.play(_Probe(c.learner()), seed=3, resume=path)
    _expect(_same_trace(whole, resumed), f"interrupted after {k} rounds and resumed, the game differs from one play")


def _check_feedback_alone(c: _Case):
    kind = c.example.feedback
    game = c.game()
    if FEEDBACK_KINDS.index(game.feedback) < FEEDBACK_KINDS.index(kind):
        raise _Skip(f"the game reveals only {game.feedback!r} feedback")
    trace = c.play(game=_Env(game, kind=kind))
    _expect(trace.T == c.T, f"played {trace.T} of {c.T} rounds")


def _check_divergence(c: _Case):
    k = max(1, c.T // 2)
    nan = "grad" if c.example.feedback == "gradient" else "value"  # full-information learners may not read grad
    try:
        c.play(game=_Env(c.game(), nan_at=k, nan=nan))
    except DivergenceError as exc:
        part = exc.partial
        _expect(isinstance(part, Trace) and part.T == k,
            f"a NaN {nan} in round {k}: DivergenceError.partial has {getattr(part, 'T', part)} rounds, expected {k}")
        return
    raise AssertionError(f"a NaN {nan} in round {k} raised no DivergenceError (was it carried silently?)")


def _check_pickle(c: _Case):
    lrn = c.learner()
    clone = pickle.loads(pickle.dumps(lrn))
    _expect(_same_trace(c.play(lrn), c.play(clone)), "the unpickled learner plays differently")
    k = max(1, c.T // 2)
    first = c.play(lrn, seed=5, T=k)
    state = pickle.loads(pickle.dumps(first.final_state))
    _expect(type(state) is type(first.final_state), "the unpickled state has another type")
    obs = first.env.observe(k)
    a = lrn.decide(first.final_state, obs, np.random.default_rng(0))[0]
    b = lrn.decide(state, obs, np.random.default_rng(0))[0]
    _expect(np.array_equal(np.asarray(a), np.asarray(b)), "the unpickled state decides differently")


def _check_bad(c: _Case):
    if c.factory is None:
        raise _Skip("needs a factory (a class or callable accepting keyword overrides), not an instance")
    names = {p.name for p in _ctor_params(c.cls)}
    bad = {k: v for k, v in COMMON_BAD.items() if k in names}
    bad.update(c.bad or {})
    if not bad:
        raise _Skip("no bad values given")
    for name, value in bad.items():
        try:
            c.factory(**{name: value})
        except InvalidArgumentError as exc:
            _expect(re.search(rf"\b{re.escape(name)}\b", str(exc)),
                f"{name}={value!r}: the InvalidArgumentError does not name {name!r}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - any other error is a failure of the check
            raise AssertionError(f"{name}={value!r}: raised {type(exc).__name__} ({exc}), expected "
                                 f"InvalidArgumentError naming {name!r}") from None
        raise AssertionError(f"{name}={value!r} was accepted (expected InvalidArgumentError naming {name!r})")


def _check_docstring(c: _Case):
    doc = inspect.getdoc(c.cls) or ""
    _expect(doc.strip(), "no class docstring")
    _expect(_CITATION.search(doc), "the docstring cites no algorithm, equation or paper (Alg./eq./Thm./author year)")
    init_doc = c.cls.__init__.__doc__ or ""
    missing = [p.name for p in _ctor_params(c.cls) if not re.search(rf"\b{re.escape(p.name)}\b", doc + init_doc)]
    _expect(not missing, f"the docstring does not document the constructor arguments {missing}")


def _check_repr(c: _Case):
    text = repr(c.example)
    _expect(text.startswith(f"{c.name}("), f"repr: expected {c.name}(arg=value, ...), got {text[:80]!r}")
    missing = [p.name for p in _ctor_params(c.cls) if f"{p.name}=" not in text]
    _expect(not missing, f"repr {text[:120]!r} does not show the hyperparameters {missing}")


_FUNCS = {"signature": _check_signature, "state_type": _check_state_type, "no_mutation": _check_no_mutation,
          "deterministic": _check_deterministic, "continuation": _check_continuation,
          "feedback_alone": _check_feedback_alone, "divergence": _check_divergence, "pickle": _check_pickle,
          "bad_hyperparameters": _check_bad, "docstring": _check_docstring, "repr": _check_repr}


def learner_checks(learner, game=None, *, T: int = 8, bad: dict | None = None) -> dict[str, Callable[[], None]]:
    """The checks of :data:`CHECKS` for ``learner``, as ``{name: check}``.

    ``check()`` raises ``AssertionError`` saying what is wrong, or :class:`ConformanceSkip` where it does not apply.

    Parameters
    ----------
    learner : class, callable or learner
        A learner class or factory (a callable returning a fresh learner; keyword arguments override
        its hyperparameters — needed for ``bad_hyperparameters``), or an instance (copied per game).
    game : Environment or callable, optional
        The environment to play (an instance, copied per game, or a callable returning a fresh one);
        default :func:`default_game`.
    T : int
        Rounds per game (at least 2).
    bad : dict, optional
        ``{hyperparameter: value it must refuse}``, added to :data:`COMMON_BAD`.
    """
    return _checks(_Case(learner, game, T, bad))


def _checks(case: _Case) -> dict:
    def wrap(fn):
        def check():
            try:
                fn(case)
            except _Skip as exc:
                raise ConformanceSkip(str(exc)) from None
        check.__name__ = f"check_{fn.__name__[7:]}"
        return check

    return {name: wrap(_FUNCS[name]) for name in CHECKS}


def check_learner(learner, game=None, *, T: int = 8, bad: dict | None = None, raise_on_failure: bool = True) \
        -> CheckReport:
    """Run every check of :func:`learner_checks`; return the :class:`CheckReport`.

    Parameters
    ----------
    learner, game, T, bad
        As in :func:`learner_checks`.
    raise_on_failure : bool
        Raise :class:`ConformanceError` (an ``AssertionError``) listing the failures.

    Examples
    --------
    >>> from olc.learners import OGD
    >>> from olc.sets import Ball
    >>> from olc.testing import check_learner
    >>> report = check_learner(lambda **kw: OGD(K=Ball(1.0), **kw), T=4)
    >>> report.results["continuation"], report.results["pickle"]
    ('ok', 'ok')
    """
    case = _Case(learner, game, T, bad)
    results = {}
    for name, check in _checks(case).items():
        try:
            check()
            results[name] = "ok"
        except ConformanceSkip as exc:
            results[name] = f"skipped: {exc}"
        except AssertionError as exc:
            results[name] = f"FAILED: {exc}"
        except Exception as exc:  # noqa: BLE001 - an error in a check is a failure of that check
            results[name] = f"FAILED: {type(exc).__name__}: {exc}"
    report = CheckReport(case.name, results)
    if raise_on_failure and not report.passed:
        raise ConformanceError(report)
    return report
