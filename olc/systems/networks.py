"""Linear systems on (real) networks: damped consensus / diffusion on networkx graphs.

The dynamics at step ``t`` are

    ``x_{t+1} = A_t x_t + B u_t + w_t``,   ``A_t = (1 - eps) (I - h L_t)``,

with ``x_t`` one scalar per node, ``L_t`` the graph Laplacian ``D - W`` of the graph active
at step ``t``, ``h > 0`` the step size and ``eps in [0, 1)`` a damping (leak) factor. ``B``
has one column per actuated node (a unit entry at that node). Time variation comes from

* switching topologies: a list of graphs over the same node set, the active one chosen by the
  seeded Markov schedule of :func:`olc.systems.library.switching_schedule`;
* random edge failures: each edge of the active graph is dropped independently with
  probability ``p_fail`` at each step (seeded).

Spectral facts (used in the tests and ``docs/systems.md``): ``L`` is symmetric PSD with ``L 1 = 0``, so with ``eps = 0``
the average ``1^T x / n`` is preserved (``1^T A = 1^T``), and on the disagreement subspace ``1^perp`` the map ``I - h L``
has norm ``max(|1 - h lambda_2|, |1 - h lambda_n|)``, which is ``1 - h lambda_2`` when ``h <= 1/lambda_n`` (``lambda_2``:
algebraic connectivity, ``lambda_n = lambda_max``). Removing edges lowers ``L`` in the PSD order, so
``lambda_max(L_t) <= lambda_max(L)``: a step size that is safe for the full graph stays safe under edge failures.

:func:`real_graph` loads the small real social networks shipped with networkx.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validate import as_rng, check_choice, in_range, positive, positive_int
from ..errors import InvalidArgumentError
from .library import switching_schedule
from .linear import LTISystem, LTVSystem

__all__ = ["REAL_GRAPHS", "real_graph", "graph_laplacian", "laplacian_sequence", "actuator_matrix",
           "consensus_system", "consensus_rate"]

#: name -> (networkx loader name, description)
REAL_GRAPHS = {
    "karate": ("karate_club_graph", "Zachary's karate club: 34 members, 78 friendships (1977)"),
    "les-miserables": ("les_miserables_graph", "co-appearance of 77 characters in Les Misérables "
                                               "(edge attribute 'weight' = number of co-appearances)"),
    "florentine": ("florentine_families_graph", "marriages between 15 Renaissance Florentine families"),
    "davis": ("davis_southern_women_graph", "Davis southern women: bipartite graph of 18 women and the "
                                            "14 social events they attended"),
}


def real_graph(name: str):
    """One of networkx's built-in real graphs (all connected and undirected).

    Parameters
    ----------
    name : {"karate", "les-miserables", "florentine", "davis"}
        See :data:`REAL_GRAPHS`.
    """
    import networkx as nx

    check_choice(name, "name", list(REAL_GRAPHS))
    return getattr(nx, REAL_GRAPHS[name][0])()


def _as_graph_list(graphs):
    import networkx as nx

    if isinstance(graphs, nx.Graph):
        graphs = [graphs]
    graphs = list(graphs)
    if not graphs:
        raise InvalidArgumentError("graphs: expected a networkx graph or a non-empty list of graphs")
    for k, G in enumerate(graphs):
        if not isinstance(G, nx.Graph):
            raise InvalidArgumentError(f"graphs[{k}]: expected a networkx graph, got {type(G).__name__}")
        if G.is_directed():
            raise InvalidArgumentError(f"graphs[{k}]: expected an undirected graph (the Laplacian must be "
                                       "symmetric)")
        if G.number_of_nodes() == 0:
            raise InvalidArgumentError(f"graphs[{k}]: the graph has no nodes")
    nodes = list(graphs[0].nodes)
    for k, G in enumerate(graphs[1:], start=1):
        if set(G.nodes) != set(nodes):
            raise InvalidArgumentError(f"graphs[{k}]: all graphs must have the same node set as graphs[0] "
                                       f"({len(nodes)} nodes), got {G.number_of_nodes()} nodes "
                                       f"({len(set(G.nodes) ^ set(nodes))} differ)")
    return graphs, nodes


def _incidence(G, nodes, weight):
    """Edge list as an incidence matrix E (e, n) (rows e_i - e_j) and edge weights (e,)."""
    index = {v: i for i, v in enumerate(nodes)}
    edges = [(u, v, data) for u, v, data in G.edges(data=True) if u != v and u in index and v in index]
    E = np.zeros((len(edges), len(nodes)))
    w = np.ones(len(edges))
    for k, (u, v, data) in enumerate(edges):
        E[k, index[u]], E[k, index[v]] = 1.0, -1.0
        if weight is not None:
            w[k] = float(data.get(weight, 1.0))
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InvalidArgumentError(f"weight: edge attribute {weight!r} must be finite and >= 0")
    return E, w


def graph_laplacian(G, nodelist=None, weight: str | None = None) -> np.ndarray:
    """Dense Laplacian ``L = D - W`` (n, n); self-loops are ignored.

    Equals ``networkx.laplacian_matrix(G, nodelist, weight).toarray()`` (a ``nodelist`` with only
    some of the nodes gives the Laplacian of the induced subgraph).

    Parameters
    ----------
    G : networkx.Graph
    nodelist : list, optional
        The node order (default ``list(G.nodes)``).
    weight : str, optional
        Edge attribute to use as weight (None: every edge has weight 1).

    Examples
    --------
    >>> import networkx as nx
    >>> from olc.systems.networks import graph_laplacian
    >>> graph_laplacian(nx.path_graph(3))
    array([[ 1., -1.,  0.],
           [-1.,  2., -1.],
           [ 0., -1.,  1.]])
    """
    import networkx as nx

    if not isinstance(G, nx.Graph):
        raise InvalidArgumentError(f"G: expected a networkx graph, got {type(G).__name__}")
    if nodelist is None:
        nodes = list(G.nodes)
    else:
        nodes = _node_list(nodelist, "nodelist")
        missing = [v for v in nodes if v not in G]
        if missing:
            raise InvalidArgumentError(f"nodelist: nodes {missing[:5]} are not in G ({G.number_of_nodes()} nodes)")
        if len(set(nodes)) != len(nodes):
            raise InvalidArgumentError(f"nodelist: expected distinct nodes, got {len(nodes) - len(set(nodes))} "
                                       "duplicate(s)")
    E, w = _incidence(G, nodes, weight)
    return (E.T * w) @ E


def laplacian_sequence(graphs, T: int, *, switch_prob: float = 0.1, p_fail: float = 0.0, seed=0,
                       weight: str | None = None):
    """Laplacians ``L_0..L_{T-1}`` (T, n, n) of a switching / failing network; returns ``(L, schedule, nodes)``.

    The active graph follows :func:`~olc.systems.library.switching_schedule` with ``switch_prob``;
    then each of its edges fails independently with probability ``p_fail``.

    Parameters
    ----------
    graphs : networkx.Graph or list of them
        Over the same node set (node order: ``list(graphs[0].nodes)``).
    T : int
    switch_prob, p_fail : float
    seed : int or numpy.random.Generator
    weight : str, optional
    """
    graphs, nodes = _as_graph_list(graphs)
    T = positive_int(T, "T")
    p_fail = in_range(p_fail, "p_fail", 0.0, 1.0)
    rng = as_rng(seed)
    schedule = switching_schedule(T, len(graphs), switch_prob=switch_prob, seed=rng)
    inc = [_incidence(G, nodes, weight) for G in graphs]
    n = len(nodes)
    e_max = max(E.shape[0] for E, _ in inc)
    keep = rng.random((T, e_max)) >= p_fail if p_fail > 0 else np.ones((T, e_max), dtype=bool)
    L = np.empty((T, n, n))
    for k, (E, w) in enumerate(inc):
        steps = np.flatnonzero(schedule == k)
        if steps.size:
            wt = keep[steps, : E.shape[0]] * w                              # (steps, e)
            L[steps] = np.einsum("ei,se,ej->sij", E, wt, E, optimize=True)  # sum_e w_e (e_i-e_j)(e_i-e_j)^T
    return L, schedule, nodes


def _node_list(nodes, name: str) -> list:
    """``list(nodes)`` for an iterable of (hashable) nodes; a clear error otherwise."""
    if isinstance(nodes, (str, bytes)) or not hasattr(nodes, "__iter__"):
        raise InvalidArgumentError(f"{name}: expected an iterable of nodes, got {nodes!r}")
    nodes = list(nodes)
    for v in nodes:
        try:
            hash(v)
        except TypeError:
            raise InvalidArgumentError(f"{name}: nodes must be hashable, got {v!r}") from None
    return nodes


def actuator_matrix(nodes, actuated) -> np.ndarray:
    """``B`` (n, k): one column per actuated node, a unit entry at that node's row in ``nodes``.

    Parameters
    ----------
    nodes : list
    actuated : list
        Every node must be in ``nodes`` (:class:`~olc.errors.InvalidArgumentError` otherwise).
    """
    nodes = _node_list(nodes, "nodes")
    actuated = _node_list(actuated, "actuated")
    index = {v: i for i, v in enumerate(nodes)}
    missing = [v for v in actuated if v not in index]
    if missing:
        shown = nodes if len(nodes) <= 10 else nodes[:10] + ["..."]
        raise InvalidArgumentError(f"actuated: nodes {missing[:5]} are not in nodes ({len(nodes)} nodes: "
                                   f"{shown})")
    B = np.zeros((len(nodes), len(actuated)))
    for j, v in enumerate(actuated):
        B[index[v], j] = 1.0
    return B


def _resolve_actuated(G, nodes, actuated):
    if actuated is None:
        return list(nodes)
    if isinstance(actuated, (numbers.Integral, np.integer)) and not isinstance(actuated, bool):
        k = positive_int(actuated, "actuated")
        if k > len(nodes):
            raise InvalidArgumentError(f"actuated: asked for the {k} highest-degree nodes of a graph with "
                                       f"{len(nodes)} nodes")
        order = sorted(range(len(nodes)), key=lambda i: (-G.degree(nodes[i]), i))  # stable on ties
        return [nodes[i] for i in sorted(order[:k])]
    actuated = list(actuated)
    missing = [v for v in actuated if v not in set(nodes)]
    if missing:
        raise InvalidArgumentError(f"actuated: nodes {missing[:5]} are not in the graph")
    if len(set(actuated)) != len(actuated) or not actuated:
        raise InvalidArgumentError("actuated: expected a non-empty list of distinct nodes")
    return actuated


def consensus_system(graphs, *, h: float | None = None, eps: float = 0.0, actuated=None, T: int | None = None,
                     switch_prob: float = 0.1, p_fail: float = 0.0, seed=0, weight: str | None = None):
    """Damped consensus dynamics ``A_t = (1 - eps)(I - h L_t)`` on a (switching, failing) network.

    Parameters
    ----------
    graphs : networkx graph or list of graphs over the same node set
    h : float, optional
        Step size; default ``1 / lambda_max`` with ``lambda_max`` the largest Laplacian eigenvalue over the given
        graphs. Must satisfy ``h < 2 / lambda_max``, otherwise ``I - h L`` has an eigenvalue ``<= -1`` and is not a
        contraction on the disagreement subspace (an :class:`~olc.errors.InvalidArgumentError` explains this). For
        ``h <= 1/lambda_max`` all eigenvalues of ``I - h L`` lie in ``[0, 1]``.
    eps : float in [0, 1)
        Damping; ``eps > 0`` makes every ``A_t`` a strict contraction (norm ``<= 1 - eps``).
    actuated : None, int or list of nodes
        Nodes with an actuator (None: all nodes; an int ``k``: the ``k`` nodes of highest degree
        in ``graphs[0]``, ties broken by node order). ``B`` has one unit column per actuated node,
        in node order for an int, in the given order for a list.
    T : int, optional
        Horizon; required when the dynamics vary (several graphs or ``p_fail > 0``).
    switch_prob, p_fail, seed, weight
        See :func:`laplacian_sequence` (``weight``: edge attribute, None = unweighted).

    Returns
    -------
    :class:`LTISystem` when the dynamics are fixed (one graph, ``p_fail = 0``) and ``T`` is None,
    otherwise an :class:`LTVSystem` of horizon ``T``. ``system.info`` holds ``nodes`` (state
    order), ``actuated``, ``h``, ``eps``, ``lambda_max`` and ``schedule`` (LTV only).
    """
    graphs, nodes = _as_graph_list(graphs)
    eps = in_range(eps, "eps", 0.0, 1.0, hi_open=True)
    p_fail = in_range(p_fail, "p_fail", 0.0, 1.0)
    lam_max = max(float(np.linalg.eigvalsh(graph_laplacian(G, nodes, weight))[-1]) for G in graphs)
    if h is None:
        h = 1.0 / lam_max if lam_max > 0 else 1.0
    else:
        h = positive(h, "h")
        if lam_max > 0 and h * lam_max >= 2.0:
            raise InvalidArgumentError(
                f"h: I - h L has the eigenvalue 1 - h*lambda_max = {1 - h * lam_max:.3g} <= -1 "
                f"(lambda_max = {lam_max:.4g}), so it is not a contraction on the disagreement subspace and "
                f"consensus diverges; use h < 2/lambda_max = {2 / lam_max:.4g} (h <= 1/lambda_max = "
                f"{1 / lam_max:.4g} keeps all eigenvalues in [0, 1])")
    act = _resolve_actuated(graphs[0], nodes, actuated)
    B = actuator_matrix(nodes, act)
    n = len(nodes)
    info = {"nodes": nodes, "actuated": act, "h": h, "eps": eps, "lambda_max": lam_max}
    varying = len(graphs) > 1 or p_fail > 0
    if not varying and T is None:
        A = (1.0 - eps) * (np.eye(n) - h * graph_laplacian(graphs[0], nodes, weight))
        sys = LTISystem(A, B)
        sys.info.update(info)
        return sys
    if T is None:
        raise InvalidArgumentError("T: a switching or failing network is time-varying; give the horizon T")
    L, schedule, _ = laplacian_sequence(graphs, T, switch_prob=switch_prob, p_fail=p_fail, seed=seed,
                                        weight=weight)
    A = (1.0 - eps) * (np.eye(n) - h * L)
    info["schedule"] = schedule
    return LTVSystem(A, B, info=info)


def consensus_rate(G, h: float, eps: float = 0.0, weight: str | None = None) -> float:
    """Norm of ``(1 - eps)(I - h L)`` on the disagreement subspace ``1^perp`` of a fixed graph.

    ``(1 - eps) max(|1 - h lambda_2|, |1 - h lambda_n|)`` (``= (1-eps)(1 - h lambda_2)`` for
    ``h <= 1/lambda_n``). Disagreement ``x - mean(x) 1`` shrinks by at least this factor per step.

    Parameters
    ----------
    G : networkx.Graph
    h, eps : float
    weight : str, optional
    """
    h = positive(h, "h")
    eps = in_range(eps, "eps", 0.0, 1.0, hi_open=True)
    lam = np.linalg.eigvalsh(graph_laplacian(G, None, weight))
    if lam.size < 2:
        return 0.0
    return float((1.0 - eps) * max(abs(1.0 - h * lam[1]), abs(1.0 - h * lam[-1])))
