"""Evidence for reproductions (private, torch-free): tuned baselines, seeds, graded claims, PROTOCOL tables.

Every experiment that reproduces a paper's figure uses these pieces, so that the rules are the same
everywhere (docs/reproductions.md states them for readers):

* :func:`tune_grid` / :func:`tune` — grid search that must end at an *interior* optimum. When the best
  point sits at an end of a tunable axis, that axis is extended by one geometric step beyond the end
  (the whole slab: the new value × every value of the other axes, so the grid stays a product grid)
  and the search is repeated, at most ``max_extend`` times per axis. The result says where the
  optimum sits on every axis: ``"interior"``, ``"boundary"`` (at a limit of the parameter's domain —
  momentum 0, a zero initialisation: the trivial member, which cannot be extended), ``"edge (low)"``
  / ``"edge (high)"`` (still at an end after the extensions: the grid is too narrow and the result
  says so), or ``"fixed"`` (a single value: not tuned). A diverged point (score ``None``/NaN/inf) is
  never the best; an end next to a diverged value is bracketed, hence interior.
* :func:`seed_list`, :func:`mean_se`, :func:`mean_ci`, :func:`paired_ci` — the seeds a run uses and
  the statistics over them (mean ± standard error; 95 % Student-t intervals).
* :func:`claim`, :func:`grade` — one claim of a paper, graded from measured numbers: the paper's
  sentence, where it is (figure), the paper's numbers, ours, the stated criterion, how many seeds it
  holds in and the verdict: ``"reproduces"`` (holds in every seed), ``"partly"`` (in some) or
  ``"does not"`` (in none).
* :func:`apply_protocol` — ``--set protocol=paper``: the fields still at their defaults take the
  paper's values (explicit ``--set`` values win).
* :func:`protocol_records`, :func:`protocol_fields`, :func:`protocol_markdown` — the PROTOCOL table of
  an experiment: for every ``Config`` field the paper's setting, olc's default and olc's
  ``protocol=paper`` value (both read from the code, so the table cannot drift) and why they differ;
  :func:`protocol` reads the table's prose (data, not code) from ``protocols/<NAME>.toml``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import re
import textwrap

import numpy as np

from ..errors import InvalidArgumentError

PROTOCOLS = ("default", "paper")
VERDICTS = ("reproduces", "partly", "does not")


# ------------------------------------------------------------------------------------------ tuning
def _finite_score(s) -> float | None:
    if s is None:
        return None
    s = float(s)
    return s if math.isfinite(s) else None


def _step(values, end: str, scale: str):
    """The next value beyond ``end`` ("low"/"high") of a sorted axis on a geometric ``scale``
    ("log": in v; "log1m": in 1 − v), or None when the domain ends there."""
    v = np.asarray(values, dtype=float)
    if scale == "log":
        pos = v[v > 0]
        if len(pos) == 0:
            return None
        f = (pos[1] / pos[0] if end == "low" else pos[-1] / pos[-2]) if len(pos) > 1 else 3.0
        f = max(f, 2.0)  # at least doubling: irregular grids (0.2 → 0.3) would otherwise crawl
        if end == "low":
            return None if v[0] <= 0 else float(v[0] / f)
        return float(v[-1] * f)
    if scale == "log1m":  # 1 − v geometric: momentum 0.9 → 0.97 → 0.99 ...
        u = 1.0 - v
        upos = u[u > 0]
        if len(upos) == 0:
            return None
        if end == "high":
            f = upos[-2] / upos[-1] if len(upos) > 1 else 3.0
            return None if u[-1] <= 0 else float(1.0 - u[-1] / max(f, 1.5))
        f = upos[0] / upos[1] if len(upos) > 1 else 3.0
        return None if v[0] <= 0 else float(max(0.0, 1.0 - u[0] * max(f, 1.5)))
    return None


def tune_grid(score_many, axes: dict, *, minimize: bool = True, max_extend: int = 3, scales: dict | None = None,
              limits: dict | None = None, keep_table: bool = True) -> dict:
    """Best point of the product grid ``axes``, extending tunable axes whose optimum sits at an end.

    See the module docstring for the extension rule.

    Parameters
    ----------
    score_many : callable
        ``score_many(configs) -> scores``: ``{name: value}`` dicts in, one score each out (``None``/NaN/inf =
        diverged); batching lets a kernel run a whole slab at once.
    axes : dict
        ``{name: values}``.
    minimize : bool
        Minimise the score (else maximise).
    max_extend : int
        The most extensions of one axis.
    scales : dict, optional
        ``{name: scale}``: ``"log"`` (default: geometric steps), ``"log1m"`` (geometric in ``1 − value``:
        momenta, decay rates below 1) or ``"fixed"`` (never extended).
    limits : dict, optional
        ``{name: (lo, hi)}``, the domain; an optimum at a limit (or at 0 on a log axis) is ``"boundary"``.
    keep_table : bool
        Return every evaluation in ``"table"``.

    Returns
    -------
    dict
        ``{"best": {name: value}, "score", "axes": {name: final sorted values}, "position": {name: ...},
        "extended": {name: count}, "edge": bool (some axis still at an edge), "evaluations", "table":
        [[config, score], ...]}``.
    """
    if not isinstance(axes, dict) or not axes:
        raise InvalidArgumentError(f"axes: expected a dict of value lists, got {axes!r}")
    scales, limits = dict(scales or {}), dict(limits or {})
    grid = {}
    for k, vals in axes.items():
        vals = sorted({float(v) for v in (vals if np.ndim(vals) else [vals])})
        if not vals:
            raise InvalidArgumentError(f"axes[{k!r}]: expected at least one value")
        grid[k] = vals
    names = list(grid)
    table: dict[tuple, float | None] = {}

    def evaluate(points):
        points = [p for p in points if p not in table]
        if not points:
            return
        scores = list(score_many([dict(zip(names, p)) for p in points]))
        if len(scores) != len(points):
            raise InvalidArgumentError(f"score_many: returned {len(scores)} scores for {len(points)} configs")
        for p, s in zip(points, scores):
            table[p] = _finite_score(s)

    evaluate(list(itertools.product(*(grid[k] for k in names))))
    sign = 1.0 if minimize else -1.0

    def best_point():
        ok = [(sign * s, p) for p, s in table.items() if s is not None]
        return min(ok)[1] if ok else None

    extended = dict.fromkeys(names, 0)
    while True:
        best = best_point()
        if best is None:
            break
        grew = False
        for i, k in enumerate(names):
            vals, scale = grid[k], scales.get(k, "log")
            if len(vals) < 2 or scale == "fixed" or extended[k] >= max_extend:
                continue
            j = vals.index(best[i])
            end = "low" if j == 0 else "high" if j == len(vals) - 1 else None
            if end is None or _at_limit(best[i], end, scale, limits.get(k)):
                continue
            new = _step(vals, end, scale)
            lo, hi = limits.get(k, (None, None))
            if new is None or (lo is not None and new < lo) or (hi is not None and new > hi):
                continue
            grid[k] = sorted({*vals, new})
            extended[k] += 1
            others = [grid[n] if n != k else [new] for n in names]
            evaluate(list(itertools.product(*others)))
            grew = True
            break  # re-pick the best before extending another axis
        if not grew:
            break
    best = best_point()
    position = {}
    for i, k in enumerate(names):
        vals, scale = grid[k], scales.get(k, "log")
        if len(vals) < 2:
            position[k] = "fixed"
            continue
        if best is None:
            position[k] = "diverged"
            continue
        j = vals.index(best[i])
        end = "low" if j == 0 else "high" if j == len(vals) - 1 else None
        if end is None:
            position[k] = "interior"
        elif _at_limit(best[i], end, scale, limits.get(k)):
            position[k] = "boundary"
        else:
            position[k] = f"edge ({end})"
    out = {"best": None if best is None else dict(zip(names, best)),
           "score": None if best is None else table[best], "axes": grid, "position": position,
           "extended": extended, "edge": any(p.startswith("edge") for p in position.values()),
           "evaluations": len(table)}
    if keep_table:
        out["table"] = [[dict(zip(names, p)), s] for p, s in sorted(table.items())]
    return out


def _at_limit(value, end, scale, limit) -> bool:
    lo, hi = limit if limit is not None else (None, None)
    if end == "low" and ((lo is not None and value <= lo) or (scale in ("log", "log1m") and value <= 0)):
        return True
    return end == "high" and ((hi is not None and value >= hi) or (scale == "log1m" and value >= 1))


def tune(score, grid, *, minimize: bool = False, max_extend: int = 2, scale: str = "log", limits=None) -> dict:
    """1-D :func:`tune_grid` (maximised by default).

    Parameters
    ----------
    score : callable
        ``score(value) -> float`` (``None``/NaN = diverged).
    grid : sequence of float
    minimize, max_extend, limits
        As in :func:`tune_grid`.
    scale : str
        The axis's scale (see :func:`tune_grid`'s ``scales``).

    Returns
    -------
    dict
        ``{"best", "grid", "scores", "position", "extended", "edge"}`` (``position`` a string).
    """
    res = tune_grid(lambda cs: [score(c["value"]) for c in cs], {"value": grid}, minimize=minimize,
                    max_extend=max_extend, scales={"value": scale}, limits={"value": limits} if limits else None)
    vals = res["axes"]["value"]
    table = {c["value"]: s for c, s in res["table"]}
    if res["best"] is None:  # every value diverged: report the first one, flagged
        return {"best": vals[0], "grid": vals, "scores": [None] * len(vals), "position": "diverged",
                "extended": 0, "edge": True}
    return {"best": res["best"]["value"], "grid": vals, "scores": [table[v] for v in vals],
            "position": res["position"]["value"], "extended": res["extended"]["value"], "edge": res["edge"]}


def position_counts(results) -> dict:
    """``{axis: {position: count}}`` over several :func:`tune_grid` results.

    Parameters
    ----------
    results : list of dict
        E.g. one per problem or seed.
    """
    out: dict[str, dict[str, int]] = {}
    for r in results:
        pos = r["position"] if isinstance(r["position"], dict) else {"value": r["position"]}
        for k, p in pos.items():
            out.setdefault(k, {}).setdefault(p, 0)
            out[k][p] += 1
    return out


def describe_positions(results) -> str:
    """``"lr: interior 5/5; momentum: boundary 3/5, interior 2/5"`` (``EDGE`` where an optimum is still at an end).

    Parameters
    ----------
    results : list of dict
        :func:`tune_grid` results.
    """
    n = len(results)
    parts = []
    for k, counts in position_counts(results).items():
        cells = ", ".join(f"{'EDGE ' + p[5:] if p.startswith('edge') else p} {c}/{n}"
                          for p, c in sorted(counts.items()))
        parts.append(f"{k}: {cells}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------ seeds
def seed_list(seed: int, seeds: int) -> list[int]:
    """The seeds of a run: ``seed·seeds, …, seed·seeds + seeds − 1``.

    Runs with different ``seed`` never share one; ``seed=0`` plays ``0..seeds−1``; in a sweep over
    ``seed`` use ``seeds=1``.

    Parameters
    ----------
    seed : int
    seeds : int
        How many.

    Examples
    --------
    >>> seed_list(2, 3)
    [6, 7, 8]
    """
    return list(range(int(seed) * int(seeds), (int(seed) + 1) * int(seeds)))


@contextlib.contextmanager
def one_thread():
    """Torch and BLAS (threadpoolctl, if importable) on one thread inside: small work, threads only oversubscribe."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = contextlib.nullcontext
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def mean_se(values, axis=0):
    """Mean and standard error (``std(ddof=1)/√n``; 0 for one value), ignoring NaN.

    Parameters
    ----------
    values : array_like
    axis : int
    """
    import warnings

    a = np.asarray(values, dtype=float)
    n = np.sum(np.isfinite(a), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (every seed diverged): NaN
        mean = np.nanmean(np.where(np.isfinite(a), a, np.nan), axis=axis)
        sd = np.nanstd(np.where(np.isfinite(a), a, np.nan), axis=axis, ddof=1) if a.shape[axis] > 1 else 0.0 * mean
        se = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), 0.0)
    if np.ndim(mean) == 0:
        return float(mean), float(se)
    return mean, se


def fmt_se(values, digits: int = 3) -> str:
    """``"12.3 ± 0.4"`` (mean ± standard error over seeds).

    Parameters
    ----------
    values : list of float
    digits : int
        Significant digits.
    """
    m, s = mean_se(values)
    if not math.isfinite(m):
        return "n/a"
    return f"{m:.{digits}g} ± {s:.2g}" if len(values) > 1 else f"{m:.{digits}g}"


def _t975(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1)) if n > 1 else math.nan


def mean_ci(values, axis=0):
    """Mean and the half-width of the 95 % t-interval over ``axis`` (seeds).

    Parameters
    ----------
    values : array_like
    axis : int
    """
    a = np.asarray(values, dtype=float)
    n = a.shape[axis]
    mean = a.mean(axis=axis)
    half = _t975(n) * a.std(axis=axis, ddof=1) / math.sqrt(n) if n > 1 else np.full_like(mean, np.nan)
    return mean, half


def paired_ci(a, b):
    """``mean(a − b)`` over paired seeds and its 95 % half-width; ``significant`` if the interval excludes 0.

    Parameters
    ----------
    a, b : array_like
        One value per seed.
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    m, h = mean_ci(d)
    m, h = float(m), float(h)
    return {"diff": m, "half_width": h, "significant": bool(abs(m) > h) if math.isfinite(h) else False}


def local_slope(R, start: float = 0.5) -> float | None:
    """Least-squares slope of ``log R(k)`` vs ``log k`` over ``k ∈ [start·N, N]`` (at least 3 points).

    None when ``R <= 0`` anywhere in that window (no growth to fit: the learner is ahead there).

    Parameters
    ----------
    R : array_like
        The curve, ``R(1), ..., R(N)``.
    start : float
    """
    R = np.asarray(R, dtype=float)
    N = len(R)
    k0 = min(max(1, int(np.floor(start * N))), max(1, N - 2))
    k = np.arange(k0, N + 1)
    r = R[k - 1]
    if len(k) < 3 or np.any(r <= 0) or not np.all(np.isfinite(r)):
        return None
    return float(np.polyfit(np.log(k), np.log(r), 1)[0])


# ------------------------------------------------------------------------------------------ claims
def grade(per_seed, unit: str = "seeds") -> tuple[str, str]:
    """``(verdict, "k/n seeds")`` from per-seed booleans: all → reproduces, some → partly, none → does not.

    Parameters
    ----------
    per_seed : sequence of bool
    unit : str
        What was counted, e.g. "(seed, Q) pairs".
    """
    per_seed = [bool(v) for v in per_seed]
    k, n = sum(per_seed), len(per_seed)
    if n == 0:
        return "does not", f"0/0 {unit}"
    verdict = "reproduces" if k == n else "partly" if k else "does not"
    return verdict, f"{k}/{n} {unit[:-1] if n == 1 and unit.endswith('s') else unit}"


def claim(paper: str, where: str, criterion: str, measured: str, per_seed=None, *, holds: bool | None = None,
          paper_numbers: str = "", verdict: str | None = None, note: str = "", unit: str = "seeds") -> dict:
    """One graded claim, as a JSON-ready dict.

    Parameters
    ----------
    paper, where, criterion, measured : str
        The claim, where the paper makes it, the test applied and what olc measured.
    per_seed : sequence of bool, optional
        The criterion evaluated in each seed (or give ``holds``).
    holds : bool, optional
        One pooled test (e.g. a paired t-interval).
    paper_numbers : str
    verdict : str, optional
        Overrides the rule (only with a reason in ``note``).
    note : str
    unit : str
        As in :func:`grade`.

    Returns
    -------
    dict
        ``paper``, ``where``, ``paper_numbers``, ``measured``, ``criterion``, ``holds_in``, ``verdict`` (and
        ``holds``: the verdict is "reproduces").
    """
    if per_seed is not None:
        v, holds_in = grade(per_seed, unit)
    elif holds is not None:
        v, holds_in = ("reproduces" if holds else "does not"), "pooled"
    else:
        raise InvalidArgumentError("claim: give per_seed (one boolean per seed) or holds")
    if verdict is not None:
        if verdict not in VERDICTS:
            raise InvalidArgumentError(f"verdict: expected one of {VERDICTS}, got {verdict!r}")
        v = verdict
    out = {"paper": paper, "where": where, "paper_numbers": paper_numbers, "measured": measured,
           "criterion": criterion, "holds_in": holds_in, "verdict": v, "holds": v == "reproduces"}
    if note:
        out["note"] = note
    return out


def paired_claim(paper: str, where: str, criterion: str, measured: str, a, b, *, paper_numbers: str = "") -> dict:
    """A :func:`claim` "``a`` is above ``b``" over paired seeds.

    Counted per seed (``a_i > b_i``) and graded by the paired 95 % t-interval of ``a − b``: ``"reproduces"``
    when it lies above 0, ``"partly"`` when it does not but some seeds are ahead, ``"does not"`` when none is.

    Parameters
    ----------
    paper, where, criterion, measured, paper_numbers : str
        As in :func:`claim` (``measured`` gets the interval appended).
    a, b : array_like
        One value per seed.
    """
    d = paired_ci(a, b)
    per_seed = [float(x) > float(y) for x, y in zip(a, b)]
    verdict = "reproduces" if d["significant"] and d["diff"] > 0 else "partly" if any(per_seed) else "does not"
    return claim(paper, where, criterion + " (verdict: the paired 95 % interval of the difference lies above 0; "
                 "'partly' when it does not but some seeds are ahead)",
                 f"{measured}; difference {d['diff']:+.4g} ± {d['half_width']:.2g} (95 %)", per_seed,
                 paper_numbers=paper_numbers, verdict=verdict)


def claims_markdown(claims, *, paper_col: bool = True) -> str:
    """The claims as a Markdown table (claim, where, paper's numbers, measured, criterion, seeds, verdict).

    Parameters
    ----------
    claims : list of dict
        From :func:`claim`.
    paper_col : bool
        Include the paper's numbers.
    """
    rows = ["| claim (paper) | where | paper's numbers | measured | criterion | holds in | verdict |",
            "|---|---|---|---|---|---|---|"]
    for c in claims:
        verdict = c["verdict"] if c["verdict"] == "reproduces" else f"**{c['verdict']}**"
        rows.append(f"| {_cell(c['paper'])} | {_cell(c.get('where', ''))} | {_cell(c.get('paper_numbers', ''))} | "
                    f"{_cell(c['measured'])} | {_cell(c['criterion'])} | {c.get('holds_in', '')} | {verdict} |")
    return "\n".join(rows)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# ------------------------------------------------------------------------------------------ protocol
#: the PROTOCOL row of the ``seed`` field of every experiment whose seeds come from :func:`seed_list`
SEED_ROW = ("seed", "not stated", "seeds of the run: seed·seeds … seed·seeds + seeds − 1")
#: rows several experiments share: ``shared = "<key>"`` in a protocols/*.toml row
SHARED_ROWS = {"seed": SEED_ROW}


@functools.cache
def _protocol_rows(name: str) -> tuple:
    from importlib.resources import files

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the tomli backport (setup.cfg installs it there)
        import tomli as tomllib

    rows = tomllib.loads(files(__package__).joinpath("protocols", f"{name}.toml").read_text("utf-8"))["row"]
    return tuple(SHARED_ROWS[r["shared"]] if "shared" in r else
                 tuple(r[k] for k in ("fields", "paper", "olc", "why") if k in r) for r in rows)


def protocol(name: str) -> list[tuple]:
    """The PROTOCOL table of an experiment as the ``(fields, paper, olc/why)`` tuples :func:`protocol_records` reads.

    Parameters
    ----------
    name : str
        The experiment; its table is data, not code: ``olc/experiments/protocols/<name>.toml``, one ``[[row]]``
        per setting with ``fields``, ``paper``, ``olc``; ``shared = "seed"`` for :data:`SEED_ROW`.
    """
    return list(_protocol_rows(name))


def apply_protocol(cfg, paper: dict):
    """``cfg`` with ``protocol="paper"`` resolved (unchanged otherwise).

    Parameters
    ----------
    cfg : Config
    paper : dict
        The paper's values: a field that still holds its ``Config`` default takes them (one set explicitly wins).
    """
    if getattr(cfg, "protocol", "default") != "paper":
        return cfg
    defaults = type(cfg)()
    changes = {k: v for k, v in paper.items() if _same(getattr(cfg, k), getattr(defaults, k))}
    return dataclasses.replace(cfg, **changes)


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def _show(v) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_show(x) for x in v) if v else "(none)"
    if isinstance(v, float):
        return f"{v:g}"
    if v is None:
        return "none"
    return str(v)


def protocol_fields(protocol) -> set[str]:
    """The names a PROTOCOL table covers: the ``setting`` of every row split at commas, slashes and spaces.

    Parameters
    ----------
    protocol : list or dict
        A list of tuples whose first item is the setting, a list of dicts with ``setting``, or a dict keyed by it.
    """
    if isinstance(protocol, dict):
        settings = list(protocol)
    else:
        settings = [r.get("setting", r.get("fields", "")) if isinstance(r, dict) else r[0] for r in protocol]
    return {tok for s in settings for tok in re.split(r"[\s,/]+", str(s)) if tok}


def protocol_records(protocol, config_cls=None, paper: dict | None = None) -> list[dict]:
    """PROTOCOL rows as dicts ``{"setting", "paper", "olc", "olc_paper", "why"}``.

    Parameters
    ----------
    protocol : list of tuple
        Rows ``(fields, paper_setting, why)`` (``fields``: ``Config`` fields, comma-separated), or
        ``(setting, paper_setting, olc_setting, why)`` for a setting that is not a field (model, data).
    config_cls : type, optional
        The ``Config``: olc's defaults are read from ``config_cls()``.
    paper : dict, optional
        The ``protocol=paper`` values.
    """
    defaults = config_cls() if config_cls is not None else None
    paper = paper or {}
    out = []
    for row in protocol:
        if len(row) == 3 and defaults is not None:
            setting, p, why = row
            names = [f.strip() for f in setting.split(",")]
            olc = "; ".join(f"{n} = {_show(getattr(defaults, n))}" if len(names) > 1 else _show(getattr(defaults, n))
                            for n in names)
            pap = "; ".join(f"{n} = {_show(_paper_value(n, paper, defaults))}" if len(names) > 1 else
                            _show(_paper_value(n, paper, defaults)) for n in names)
        elif len(row) == 4:
            setting, p, olc, why = row
            pap = olc
        else:
            raise InvalidArgumentError(f"PROTOCOL: expected rows (fields, paper, why) or (setting, paper, olc, why), "
                                       f"got {row!r}")
        out.append({"setting": setting, "paper": p, "olc": olc, "olc_paper": pap, "why": why})
    return out


def _paper_value(name, paper, defaults):
    return "paper" if name == "protocol" else paper.get(name, getattr(defaults, name))


def protocol_markdown(records) -> str:
    """A PROTOCOL table as Markdown.

    Parameters
    ----------
    records : list
        From :func:`protocol_records`, or legacy ``(setting, paper, olc, why)`` tuples.
    """
    rows = ["| setting | paper | olc (default) | olc (protocol=paper) | why |", "|---|---|---|---|---|"]
    for r in records:
        if not isinstance(r, dict):
            r = {"setting": r[0], "paper": r[1], "olc": r[2], "olc_paper": r[2], "why": r[3]}
        rows.append(f"| {_cell(r['setting'])} | {_cell(r['paper'])} | {_cell(r['olc'])} | "
                    f"{_cell(r.get('olc_paper', r['olc']))} | {_cell(r['why'])} |")
    return "\n".join(rows)


def protocol_doc(protocol, config_cls, paper) -> str:
    """The PROTOCOL table for a module docstring (appended after ``PROTOCOL`` is defined), preformatted.

    The markdown table reads the same in ``help()`` and in the Sphinx site.

    Parameters
    ----------
    protocol, config_cls, paper
        As in :func:`protocol_records`.
    """
    table = protocol_markdown(protocol_records(protocol, config_cls, paper))
    return "\n\n.. code-block:: text\n\n" + textwrap.indent(table, "    ") + "\n"


def config_dict(cfg) -> dict:
    """``cfg`` as a JSON-ready dict (tuples as lists).

    Parameters
    ----------
    cfg : Config
    """
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def report(results: dict, extra: str = "") -> str:
    """The standard reproduction report of an experiment's results: PROTOCOL, tuning positions, claims.

    Parameters
    ----------
    results : dict
    extra : str
        Text inserted into the report when not empty.
    """
    lines = []
    if results.get("protocol"):
        lines += ["PROTOCOL", protocol_markdown(results["protocol"]), ""]
    if extra:
        lines += [extra, ""]
    if results.get("tuning_summary"):
        lines += ["Where each tuned baseline's optimum sits in its grid (per problem / seed)",
                  "| method | positions |", "|---|---|"]
        lines += [f"| {m} | {p} |" for m, p in results["tuning_summary"].items()]
        edges = [m for m, p in results["tuning_summary"].items() if "EDGE" in p]
        if edges:
            lines.append(f"\n**EDGE: an optimum still at the end of its extended grid for {', '.join(edges)}**")
        lines.append("")
    if results.get("claims"):
        lines += ["Claims", claims_markdown(results["claims"])]
    return "\n".join(lines)
