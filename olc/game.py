"""The online-game protocol: learners, environments, :func:`play` and :class:`Trace`.

One round ``t = 0, 1, ..., T-1``:

1. the environment shows an observation ``obs_t`` (``None`` in plain online convex
   optimization; the state ``x_t`` in control);
2. the learner commits ``decision_t = learner.decide(state, obs_t, rng)``;
3. the environment charges ``loss_t`` and reveals :class:`Feedback` of one of the kinds

   * ``"full"`` — the loss function itself (``feedback.loss``), plus value and gradient;
   * ``"gradient"`` — the (sub)gradient at the played point (``feedback.grad``) and the value;
   * ``"bandit"`` — the loss value only (``feedback.value``);

   losses *with memory* ``f_t(x_{t-H+1..t})`` charge the window of the last ``H`` decisions;
   their ``grad`` is the gradient of the unary restriction ``f̃_t`` at the current decision
   and ``loss`` is the memory loss itself;
4. ``state = learner.update(state, feedback)``.

:func:`play` hands each learner only the kind of feedback it declares (``learner.feedback``),
so a bandit learner provably never sees a gradient. Environments may be *oblivious* (the
loss sequence is fixed in advance) or *adaptive* (a loss may depend on past decisions).

A learner holds only hyperparameters; its state is explicit data returned by ``init`` and
``update`` (see ``DESIGN.md``), which makes traces reproducible: same seed, same trace.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._progress import progress_bar
from ._validate import as_path, as_rng, check_alloc, check_choice, number, positive_int, require
from .errors import DivergenceError, FeedbackError, InvalidArgumentError, NonFiniteError, ShapeError

__all__ = ["Feedback", "Learner", "Environment", "Stateful", "Trace", "play", "FEEDBACK_KINDS"]

#: feedback kinds, from least to most informative
FEEDBACK_KINDS = ("bandit", "gradient", "full")
_LEVEL = {k: i for i, k in enumerate(FEEDBACK_KINDS)}


@dataclass(frozen=True)
class Feedback:
    """What the environment reveals after round ``t``.

    Parameters
    ----------
    t : int
        The round.
    kind : {"bandit", "gradient", "full"}
        How much is revealed: ``grad`` for "gradient" and "full", ``loss`` only for "full".
    value : float
        The learner's loss (always present).
    grad, loss : ndarray or None, callable or None
        The (sub)gradient at the played point; the round's loss function.
    obs, info : object, dict
        The next observation (the next state in control) and any extra data the environment
        reports; neither is loss feedback, so both survive :meth:`restrict`.
    """

    t: int
    kind: str
    value: float
    grad: np.ndarray | None = None
    loss: Any = None
    obs: Any = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in _LEVEL:
            raise InvalidArgumentError(f"kind: expected one of {', '.join(map(repr, FEEDBACK_KINDS))}, "
                                       f"got {self.kind!r}")
        if type(self.value) is not float:  # a real number; NaN/Inf pass (the learner or play reports them)
            object.__setattr__(self, "value", number(self.value, "value"))

    def restrict(self, kind: str) -> Feedback:
        """The same feedback with everything above ``kind`` (a feedback kind) removed.

        Parameters
        ----------
        kind : {"bandit", "gradient", "full"}
        """
        if _LEVEL[kind] > _LEVEL[self.kind]:
            raise FeedbackError(f"feedback: the environment reveals {self.kind!r} feedback, {kind!r} was asked for")
        if kind == self.kind:
            return self
        return Feedback(self.t, kind, self.value, self.grad if kind == "gradient" else None, None, self.obs,
                        self.info)


class Learner:
    """Base class documenting the learner protocol (subclassing it is optional).

    Attributes
    ----------
    feedback : {"bandit", "gradient", "full"}
        The least informative feedback the learner can work with.
    """

    feedback: str = "gradient"

    def init(self, shape: tuple[int, ...], rng: np.random.Generator, horizon: int | None = None, *, x0=None):
        """Return the initial state.

        Parameters
        ----------
        shape : tuple of int
            The shape of one decision.
        rng : numpy.random.Generator
        horizon : int, optional
            The number of rounds, if known.
        x0 : ndarray, optional
            The first decision, when the environment fixes one (``env.initial_decision``, e.g.
            optimization games where the decision is the iterate). A learner whose decisions have
            no given start (a controller, Hedge) refuses an ``x0`` other than None with an
            ``InvalidArgumentError``.
        """
        raise NotImplementedError

    def decide(self, state, obs, rng: np.random.Generator):
        """Return ``(decision, state)``.

        Parameters
        ----------
        state : object
        obs : object
            The environment's observation (or None).
        rng : numpy.random.Generator
        """
        raise NotImplementedError

    def update(self, state, feedback: Feedback):
        """Return the state after seeing ``feedback``.

        Parameters
        ----------
        state : object
        feedback : Feedback
        """
        raise NotImplementedError

    def __repr__(self):
        """``ClassName(arg=value, ...)``: the constructor arguments, read from the attributes of the same
        name (or with a leading underscore, or named by the class's ``_attr_of``); arrays show their shape."""
        import inspect

        try:
            params = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        except (TypeError, ValueError):  # pragma: no cover - builtins
            params = []
        parts = []
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            for attr in (getattr(self, "_attr_of", {}).get(p.name, p.name), "_" + p.name):
                if attr in vars(self):
                    v = vars(self)[attr]
                    parts.append(f"{p.name}=" + (f"array(shape={v.shape})" if isinstance(v, np.ndarray) and v.size > 4
                                                 else repr(v)))
                    break
        return f"{type(self).__name__}({', '.join(parts)})"


class Stateful:
    """Snapshots of a game's position for checkpoints (:func:`play`'s ``checkpoint=``/``resume=``).

    A class lists in ``_state`` the attributes that ``reset`` creates and each round advances
    (arrays filled so far, round counters, its random generator); :meth:`get_state` returns a deep
    copy of them as one dict (so shared objects stay shared) and :meth:`set_state` puts such a
    snapshot back into an object built the same way. Everything else (the loss sequence, the
    system, callables) is configuration and is not saved: resume with an environment constructed
    like the first one.
    """

    _state: tuple[str, ...] = ()

    def get_state(self) -> dict:
        """A deep copy of the attributes named in ``_state`` (those that exist yet)."""
        return copy.deepcopy({a: getattr(self, a) for a in self._state if hasattr(self, a)})

    def set_state(self, state: dict) -> None:
        """Restore a snapshot (copied: one snapshot can be restored twice).

        Parameters
        ----------
        state : dict
            A snapshot from :meth:`get_state`.
        """
        unknown = set(state) - set(self._state)
        if unknown:
            raise InvalidArgumentError(f"state: {type(self).__name__} has no saved attributes {sorted(unknown)}; "
                                       f"expected a snapshot with keys among {list(self._state)}")
        for a, v in copy.deepcopy(state).items():
            setattr(self, a, v)


class Environment(Stateful):
    """Base class of environments (see :mod:`olc.games` for the concrete ones).

    Position snapshots for checkpoints: :class:`Stateful` (``_state`` lists what ``reset`` and
    ``step`` change; an environment without such attributes has nothing to save).

    Attributes
    ----------
    shape : tuple of int
        The decision shape.
    horizon : int or None
        None if unbounded.
    feedback : {"bandit", "gradient", "full"}
        The most informative kind it can reveal.
    memory : int
        1 unless losses have memory.
    """

    shape: tuple[int, ...] = ()
    horizon: int | None = None
    feedback: str = "full"
    memory: int = 1

    def reset(self, rng: np.random.Generator) -> None:
        """Start a new game (called by :func:`play`).

        Parameters
        ----------
        rng : numpy.random.Generator
        """

    def observe(self, t: int):
        """Observation shown before the decision of round ``t`` (None by default).

        Parameters
        ----------
        t : int
        """
        return None

    def step(self, t: int, decision: np.ndarray) -> Feedback:
        """Charge round ``t`` for ``decision`` and return the full :class:`Feedback`.

        Parameters
        ----------
        t : int
        decision : ndarray
        """
        raise NotImplementedError

    def realized(self):
        """The loss sequence actually played (for comparators), or None."""
        return None

    def done(self, t: int) -> bool:
        """True when the game ends after round ``t`` (False by default).

        An early stop: :func:`play` returns the ``t + 1`` rounds played, e.g. once an optimizer's
        gradient norm is below a tolerance.

        Parameters
        ----------
        t : int
        """
        return False

    def report(self) -> dict:
        """Extra per-round arrays to keep in :attr:`Trace.info` (e.g. states, disturbances)."""
        return {}


@dataclass
class Trace:
    """The record of one game: decisions, losses and what the environment reported.

    Attributes
    ----------
    decisions, losses : ndarray
        Shapes ``(T, *shape)`` and ``(T,)``.
    sequence : object
        The realised loss sequence (what comparators minimise).
    info : dict
        Extra arrays from the environment and the values of :func:`play`'s ``record`` hook.
    env, learner, final_state, seed : object
        The environment and learner played, the learner's last state, the seed.
    """

    decisions: np.ndarray
    losses: np.ndarray
    sequence: Any = None
    info: dict = field(default_factory=dict)
    env: Any = None
    learner: Any = None
    final_state: Any = None
    seed: Any = None

    @property
    def T(self) -> int:
        return int(self.losses.shape[0])

    @property
    def cumulative_loss(self) -> np.ndarray:
        return np.cumsum(self.losses)

    def regret(self, comparator) -> np.ndarray:
        """Cumulative regret curve, shape ``(T,)``.

        Parameters
        ----------
        comparator : object
            A comparator from :mod:`olc.comparators` (``best_cumulative(trace)``).

        Notes
        -----
        ``R[t] = Σ_{s<=t} loss_s - best[t]`` where ``best = comparator.best_cumulative(trace)``.
        Comparators say whether ``best`` is *anytime* (``best[t]`` is the best in hindsight
        for the prefix ``0..t``, as the closed forms give) or the running loss of the single
        comparator that is best for the whole horizon (``comparator.anytime`` tells which).
        """
        require(comparator, "comparator", "a comparator from olc.comparators", ("best_cumulative",))
        best = np.asarray(comparator.best_cumulative(self), dtype=float)
        if best.shape != self.losses.shape:
            raise ShapeError(f"comparator: best_cumulative returned shape {best.shape}, expected {self.losses.shape}")
        return self.cumulative_loss - best

    def truncated(self, T: int) -> Trace:
        """The first ``T`` rounds of this trace (same environment and loss sequence prefix).

        Parameters
        ----------
        T : int
        """
        seq = self.sequence[:T] if self.sequence is not None else None
        info = {k: (v[:T] if isinstance(v, np.ndarray) and v.ndim and v.shape[0] >= self.T else v)
                for k, v in self.info.items()}
        return dataclasses.replace(self, decisions=self.decisions[:T], losses=self.losses[:T], sequence=seq,
                                   info=info)

    def to_dict(self) -> dict:
        """JSON-serialisable summary (arrays as lists)."""
        return {
            "T": self.T,
            "losses": self.losses.tolist(),
            "cumulative_loss": float(self.losses.sum()),
            "decisions_shape": list(self.decisions.shape),
            "seed": self.seed if isinstance(self.seed, (int, type(None))) else str(self.seed),
        }


def play(learner, env, T: int | None = None, seed=0, progress: bool | None = None, state=None, *,
         checkpoint=None, every: int | None = None, resume=None, record=None) -> Trace:
    """Play ``learner`` against ``env`` for ``T`` rounds.

    NaN/Inf in a decision or a loss raises :class:`olc.DivergenceError` whose ``partial`` attribute
    holds the trace of the rounds completed before it; any other error raised during a round (a
    failing adversary, a wrong gradient shape, Ctrl-C) propagates unchanged with the same ``partial``
    trace attached and a note saying so. Early stop: an environment whose :meth:`Environment.done`
    returns True after round ``t`` ends the game there (the trace holds the ``t + 1`` rounds played).

    Parameters
    ----------
    learner, env : Learner, Environment
    T : int, optional
        The most rounds (default: the environment's horizon).
    seed : int or numpy.random.Generator
        Drives the learner's and the environment's randomness through independent child streams;
        the same seed gives the same trace.
    progress : bool or None
        A tqdm bar over the rounds: None (default) shows one only when the game is still running
        after a few seconds, True always, False never.
    state : object, optional
        Continue a game from a learner state, e.g. ``trace.final_state`` of an earlier play or the
        next episode's state from ``learner.new_episode``; ``learner.init`` is then not called (the
        state carries its own iterate, round counter and schedules). ``T1`` rounds and then ``T2``
        more from ``state=trace.final_state`` on the rest of an oblivious sequence give the
        decisions of one play of ``T1 + T2`` rounds for deterministic learners (a randomised
        learner draws from the new play's learner stream).
    checkpoint, every : path, int, optional
        Every ``every`` rounds (and after the last) write the game so far to ``checkpoint``
        atomically (a pickle: the learner state and generator, the environment's position,
        :meth:`Environment.get_state`, and the completed decisions and losses); a kill at any
        moment leaves the previous checkpoint intact.
    resume : path, optional
        Continue such a game: pass a learner and an environment constructed like the first ones
        (and the same ``T`` and ``seed``); the trace is bitwise identical to an uninterrupted play.
        ``checkpoint`` and ``resume`` may name the same file. Only resume checkpoints you wrote
        (unpickling runs code).
    record : callable, optional
        ``record(t, decision, feedback, state) -> dict``, called after the learner's update of round
        ``t`` (``feedback`` is the full :class:`Feedback`, ``state`` the new state). Each key's values
        are stacked over the rounds into ``Trace.info[key]`` (an array with a leading round axis when
        they stack, else a list; every round returns the same keys), also in ``.partial`` traces and
        checkpoints.

    Returns
    -------
    Trace

    Examples
    --------
    >>> import olc
    >>> trace = olc.play(olc.learners.OGD(K=olc.sets.Ball(1.0)), olc.games.random_quadratic(5, 3, seed=0))
    >>> trace.decisions.shape, trace.losses.shape
    ((5, 3), (5,))
    """
    _check_protocol(learner, env)
    require(learner, "learner", "a learner (init, decide, update)", ("init", "decide", "update"))
    require(env, "env", "an environment from olc.games", ("reset", "observe", "step", "realized", "report"),
            ("shape", "horizon", "feedback", "memory"))
    if T is None:
        T = env.horizon
        if T is None:
            raise InvalidArgumentError("T: the environment has no horizon; pass T explicitly")
    T = positive_int(T, "T")
    if env.horizon is not None and T > env.horizon:
        raise InvalidArgumentError(f"T: the environment has {env.horizon} rounds, {T} were asked for")
    need = check_choice(getattr(learner, "feedback", "gradient"), "learner.feedback", FEEDBACK_KINDS)
    if _LEVEL[need] > _LEVEL[env.feedback]:
        raise FeedbackError(f"learner: {type(learner).__name__} needs {need!r} feedback but the environment "
                            f"reveals only {env.feedback!r}")
    L = getattr(learner, "memory", None)
    if env.memory > 1 and isinstance(L, (int, np.integer)) and L != env.memory:
        raise InvalidArgumentError(f"learner: {type(learner).__name__} has memory={L} but the environment's "
                                   f"losses have memory {env.memory}")
    if checkpoint is not None or resume is not None or every is not None:
        _check_checkpointing(env, checkpoint, every, resume, state)
    rng = as_rng(seed)
    env_rng, learner_rng = rng.spawn(2)
    shape = tuple(env.shape)
    check_alloc(8 * T * (1 + math.prod(shape)), f"play(T={T}): the trace of {T} decisions of "
                f"shape {shape}", "play fewer rounds at a time (state=trace.final_state continues a game)")
    env.reset(env_rng)
    x0 = getattr(env, "initial_decision", None)  # optimization games fix the starting iterate

    def init(rng_):
        return learner.init(shape, rng_, horizon=T) if x0 is None else \
            learner.init(shape, rng_, horizon=T, x0=x0)

    saved = None
    if resume is not None:  # position, generators and completed rounds from the checkpoint
        saved = _load_checkpoint(resume, learner, env, T, seed, shape)
        env.set_state(saved["env"])
        state, learner_rng = saved["state"], saved["learner_rng"]
    elif state is None:
        state = init(learner_rng)
    else:  # the kind of state this learner makes (a throwaway stream: the learner's is untouched)
        kind = type(init(np.random.default_rng(0)))
        if type(state) is not kind:
            raise InvalidArgumentError(f"state: {type(learner).__name__} needs a {kind.__name__} (from its init, "
                                       f"new_episode or an earlier trace.final_state), got {type(state).__name__}")
    decisions = np.empty((T, *shape))
    losses = np.empty(T)
    name = type(learner).__name__
    done = getattr(env, "done", None)
    rows = {}  # the record hook's values, one list per key
    t = n = 0
    if saved is not None:
        t = saved["t"]
        decisions[:t], losses[:t] = saved["decisions"], saved["losses"]
        rows = {k: list(v) for k, v in saved.get("records", {}).items()}
    start = n = t
    if saved is not None and t and done is not None and bool(done(t - 1)):  # written at an early stop
        start = T

    def _partial():
        return Trace(decisions[:t], losses[:t], sequence=_prefix(env, t),
                     info={**_report(env, t), **_stacked(rows, t)}, env=env, learner=learner, final_state=state,
                     seed=seed)

    try:
        for t in progress_bar(range(start, T), progress, name):
            obs = env.observe(t)
            x, state = _decision(learner.decide(state, obs, learner_rng), name, t)
            x = np.asarray(x, dtype=float)
            if x.shape != shape:
                raise ShapeError(f"{name}.decide: returned a decision of shape {x.shape} in round {t}, "
                                 f"expected {shape}")
            if not np.all(np.isfinite(x)):
                raise NonFiniteError(f"{name}.decide: non-finite decision in round {t}")
            decisions[t] = x
            fb = env.step(t, x)
            if not np.isfinite(fb.value):
                raise NonFiniteError(f"environment: non-finite loss {fb.value} in round {t}")
            losses[t] = fb.value
            state = learner.update(state, fb.restrict(need))
            if record is not None:
                _record_round(rows, record(t, x, fb, state), t)
            n = t + 1
            stop = done is not None and bool(done(t))
            if checkpoint is not None and (n % every == 0 or n == T or stop):
                _save_checkpoint(checkpoint, n, T, seed, shape, learner, env, state, learner_rng,
                                 decisions, losses, rows)
            if stop:
                break
    except NonFiniteError as exc:
        raise DivergenceError(f"play: {exc} (the {t} rounds before it are in .partial)", step=t,
                              partial=_partial()) from exc
    except BaseException as exc:  # any other error, Ctrl-C included: keep the completed rounds
        if getattr(exc, "partial", None) is None:
            try:
                exc.partial = _partial()
                exc.add_note(f"olc.play: the {t} rounds completed before this error (round {t}) are in "
                             "the exception's .partial Trace")
            except AttributeError:  # an exception type that takes no attributes
                pass
        raise
    seq = env.realized()
    if seq is not None and env.horizon is not None and n < env.horizon:  # the rounds played, not the whole game
        seq = seq[:n]
    return Trace(decisions[:n], losses[:n], sequence=seq, info={**env.report(), **_stacked(rows, n)}, env=env,
                 learner=learner, final_state=state, seed=seed)


def _record_round(rows: dict, values, t: int) -> None:
    """Append the record hook's values of round ``t`` to ``rows`` (one list per key)."""
    if not isinstance(values, Mapping):
        raise InvalidArgumentError(f"record: expected a dict of per-round values, got {type(values).__name__} "
                                   f"in round {t}")
    if not rows:
        if t and values:
            raise InvalidArgumentError(f"record: the game resumed at round {t} has no records of the rounds before "
                                       "(resume with the record= hook of the play that wrote the checkpoint)")
        rows.update((k, []) for k in values)
    elif set(values) != set(rows):
        raise InvalidArgumentError(f"record: round {t} returned the keys {sorted(values)}, earlier rounds "
                                   f"{sorted(rows)}; return the same keys every round")
    for k, v in values.items():
        rows[k].append(v)


def _stacked(rows: dict, n: int) -> dict:
    """The first ``n`` recorded values of each key as an array with a leading round axis (a list when
    they do not stack into a numeric array)."""
    out = {}
    for k, vals in rows.items():
        vals = vals[:n]
        try:
            arr = np.asarray(vals)
        except ValueError:  # ragged
            arr = None
        out[k] = arr if arr is not None and arr.dtype != object else list(vals)
    return out


def _check_protocol(learner, env):
    """Before the first round: the mistakes people make with the protocol get errors that say so."""
    require(env, "env", "an environment from olc.games")  # a class instead of an instance, for one
    require(learner, "learner", "a learner (init, decide, update)", ("init", "decide", "update"))
    if not hasattr(learner, "feedback"):
        raise FeedbackError(f"learner: {type(learner).__name__} declares no feedback kind; set the class attribute "
                            f"feedback = 'bandit', 'gradient' or 'full' (the least informative feedback it works "
                            f"with: play hands it only that), or subclass olc.game.Learner (default 'gradient')")


def _decision(out, name, t):
    """``decide``'s ``(decision, state)``; a bare decision (an array, a number) is a protocol error."""
    if not (isinstance(out, tuple) and len(out) == 2):
        got = f"an array of shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise InvalidArgumentError(f"{name}.decide: returned {got} in round {t}; decide(state, obs, rng) must return "
                                   "the pair (decision, state) — the new state too (olc.game.Learner)")
    return out


_CHECKPOINT_FORMAT = "olc.play checkpoint"


def _check_checkpointing(env, checkpoint, every, resume, state):
    """Before the first round: the arguments of checkpointing and resuming make sense."""
    if not (callable(getattr(env, "get_state", None)) and callable(getattr(env, "set_state", None))):
        raise InvalidArgumentError(f"env: {type(env).__name__} has no get_state()/set_state(), so its position "
                                   "cannot be checkpointed (subclass olc.game.Environment and list the attributes "
                                   "reset() and step() change in _state)")
    if resume is not None and state is not None:
        raise InvalidArgumentError("state: pass either state= or resume=, not both (the checkpoint holds the state)")
    for name, path in (("checkpoint", checkpoint), ("resume", resume)):
        if path is not None:
            as_path(path, name)
    if checkpoint is None:
        if every is not None:
            raise InvalidArgumentError("every: given without checkpoint=PATH")
        return
    if every is None:
        raise InvalidArgumentError("every: pass the number of rounds between checkpoints with checkpoint=PATH")
    positive_int(every, "every")
    folder = os.path.dirname(os.path.abspath(os.fspath(checkpoint)))
    if not os.path.isdir(folder):
        raise InvalidArgumentError(f"checkpoint: the directory {folder} of {os.fspath(checkpoint)!r} does not exist")


def _save_checkpoint(path, t, T, seed, shape, learner, env, state, learner_rng, decisions, losses, rows):
    from ._io import atomic_write_bytes

    record = {"format": _CHECKPOINT_FORMAT, "version": 1, "t": t, "T": T,
              "seed": int(seed) if isinstance(seed, (int, np.integer)) else None, "shape": shape,
              "learner": type(learner).__qualname__, "env_type": type(env).__qualname__,
              "env": env.get_state(), "state": state, "learner_rng": learner_rng,
              "decisions": decisions[:t], "losses": losses[:t], "records": rows}
    try:  # one pickle: objects shared between the parts stay shared when loaded
        data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise InvalidArgumentError(f"checkpoint: the learner state or the environment position of round {t} "
                                   f"cannot be pickled ({type(exc).__name__}: {exc})") from None
    atomic_write_bytes(path, data)


def _load_checkpoint(path, learner, env, T, seed, shape) -> dict:
    try:
        with open(os.fspath(path), "rb") as fh:
            record = pickle.load(fh)
    except FileNotFoundError:
        raise InvalidArgumentError(f"resume: no checkpoint at {os.fspath(path)!r}") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means: not a readable checkpoint
        raise InvalidArgumentError(f"resume: {os.fspath(path)!r} is not a readable olc.play checkpoint "
                                   f"({type(exc).__name__}: {exc})") from None
    if not isinstance(record, dict) or record.get("format") != _CHECKPOINT_FORMAT:
        raise InvalidArgumentError(f"resume: {os.fspath(path)!r} is not an olc.play checkpoint")
    expected = {"T": T, "shape": shape, "learner": type(learner).__qualname__, "env_type": type(env).__qualname__}
    if isinstance(seed, (int, np.integer)) and record["seed"] is not None:
        expected["seed"] = int(seed)
    for key, value in expected.items():
        if record[key] != value:
            raise InvalidArgumentError(f"resume: the checkpoint {os.fspath(path)!r} was written by a play with "
                                       f"{key}={record[key]!r}; this play has {key}={value!r}")
    return record


def _prefix(env, t):
    try:
        seq = env.realized()
        return None if seq is None or t == 0 else seq[:t]
    except Exception:  # noqa: BLE001 - best effort while reporting another error
        return None


def _report(env, t):
    try:
        return {k: v[:t] if isinstance(v, np.ndarray) else v for k, v in env.report().items()}
    except Exception:  # noqa: BLE001
        return {}
