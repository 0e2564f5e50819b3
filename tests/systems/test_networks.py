"""Consensus dynamics on networkx graphs: spectral facts, switching, edge failures, loaders."""

import networkx as nx
import numpy as np
import pytest

from olc.errors import InvalidArgumentError
from olc.systems import (
    LTISystem,
    LTVSystem,
    actuator_matrix,
    consensus_rate,
    consensus_system,
    graph_laplacian,
    laplacian_sequence,
    real_graph,
)


@pytest.mark.parametrize("name, n", [("karate", 34), ("les-miserables", 77), ("florentine", 15),
                                     ("davis", 32)])
def test_real_graphs(name, n):
    G = real_graph(name)
    assert G.number_of_nodes() == n and nx.is_connected(G)
    np.testing.assert_allclose(graph_laplacian(G, weight="weight"),
                               nx.laplacian_matrix(G, weight="weight").toarray(), atol=1e-12)
    np.testing.assert_allclose(graph_laplacian(G), nx.laplacian_matrix(G, weight=None).toarray(), atol=1e-12)


def test_consensus_preserves_average_and_contracts_at_rate():
    G = real_graph("karate")
    lam = np.sort(nx.laplacian_spectrum(G, weight=None))
    h = 1.0 / lam[-1]
    sys = consensus_system(G)                              # default h = 1/lambda_max, eps = 0
    assert isinstance(sys, LTISystem) and abs(sys.info["h"] - h) < 1e-12
    A = sys.A()
    np.testing.assert_allclose(np.ones(34) @ A, np.ones(34), atol=1e-12)        # 1^T A = 1^T
    x0 = np.random.default_rng(0).standard_normal(34)
    X = sys.simulate(x0, T=30)
    np.testing.assert_allclose(X.mean(axis=1), x0.mean(), atol=1e-12)
    # contraction factor on the disagreement subspace 1^perp equals 1 - h lambda_2
    Pperp = np.eye(34) - np.ones((34, 34)) / 34
    rate = np.linalg.norm(A @ Pperp, 2)
    assert abs(rate - (1 - h * lam[1])) < 1e-10
    assert abs(consensus_rate(G, h) - rate) < 1e-10
    assert abs(consensus_rate(G, h, eps=0.1) - 0.9 * rate) < 1e-10
    dis = np.linalg.norm(X - X.mean(axis=1, keepdims=True), axis=1)
    assert np.all(dis[1:] <= rate * dis[:-1] + 1e-12)


def test_actuators_and_damping():
    G = real_graph("florentine")
    sys = consensus_system(G, eps=0.2, actuated=["Medici", "Strozzi"])
    nodes = sys.info["nodes"]
    B = sys.B()
    assert B.shape == (15, 2) and B[nodes.index("Medici"), 0] == 1 and B.sum() == 2
    assert np.linalg.norm(sys.A(), 2) <= 0.8 + 1e-12
    top = consensus_system(G, actuated=1)
    assert top.info["actuated"] == ["Medici"]                       # the highest-degree family
    with pytest.raises(InvalidArgumentError, match="actuated"):
        consensus_system(G, actuated=["Nobody"])


def test_switching_topologies():
    G1, G2 = nx.cycle_graph(6), nx.path_graph(6)
    sys = consensus_system([G1, G2], T=50, switch_prob=0.5, seed=1, h=0.2)
    assert isinstance(sys, LTVSystem) and sys.horizon == 50
    sched = sys.info["schedule"]
    assert set(np.unique(sched)) == {0, 1}
    for t in range(50):
        L = graph_laplacian([G1, G2][sched[t]])
        np.testing.assert_allclose(sys.A(t), np.eye(6) - 0.2 * L, atol=1e-12)
    again = consensus_system([G1, G2], T=50, switch_prob=0.5, seed=1)
    np.testing.assert_array_equal(sched, again.info["schedule"])


def test_edge_failures():
    G = real_graph("karate")
    L, _, nodes = laplacian_sequence(G, 100, p_fail=0.3, seed=0)
    E = G.number_of_edges()
    kept = -np.array([np.triu(Lt, 1).sum() for Lt in L])            # number of surviving edges per step
    assert abs(kept.mean() / E - 0.7) < 0.03
    np.testing.assert_allclose(L.sum(axis=2), 0, atol=1e-12)        # still Laplacians: rows sum to 0
    lam_full = np.linalg.eigvalsh(graph_laplacian(G))[-1]
    assert np.all(np.linalg.eigvalsh(L)[:, -1] <= lam_full + 1e-9)  # lambda_max only drops
    sys = consensus_system(G, T=100, p_fail=0.3, seed=0, eps=0.05)
    np.testing.assert_allclose(sys.A(3), 0.95 * (np.eye(34) - sys.info["h"] * L[3]), atol=1e-12)
    np.testing.assert_array_equal(sys.A(99), consensus_system(G, T=100, p_fail=0.3, seed=0, eps=0.05).A(99))
    assert not np.array_equal(sys.A(99), consensus_system(G, T=100, p_fail=0.3, seed=1, eps=0.05).A(99))


def test_argument_errors():
    G = real_graph("karate")
    lam_max = np.linalg.eigvalsh(graph_laplacian(G))[-1]
    with pytest.raises(InvalidArgumentError, match="h: I - h L"):
        consensus_system(G, h=2.0 / lam_max)
    with pytest.raises(InvalidArgumentError, match="eps"):
        consensus_system(G, eps=1.0)
    with pytest.raises(InvalidArgumentError, match="T"):
        consensus_system(G, p_fail=0.1)
    with pytest.raises(InvalidArgumentError, match="same node set"):
        consensus_system([G, nx.path_graph(5)], T=10)
    with pytest.raises(InvalidArgumentError, match="name"):
        real_graph("facebook")


def test_actuator_matrix_unknown_node():
    with pytest.raises(InvalidArgumentError, match=r"actuated: nodes \[5\] are not in nodes \(3 nodes: \[0, 1, 2\]\)"):
        actuator_matrix([0, 1, 2], [5])
    with pytest.raises(InvalidArgumentError, match="actuated: expected an iterable of nodes, got 5"):
        actuator_matrix([0, 1, 2], 5)
    np.testing.assert_array_equal(actuator_matrix(["a", "b"], ["b"]), [[0.0], [1.0]])


def test_graph_laplacian_rejects_non_graphs_and_unknown_nodes():
    with pytest.raises(InvalidArgumentError, match=r"G: expected a networkx graph, got int"):
        graph_laplacian(1)
    G = nx.path_graph(4)
    with pytest.raises(InvalidArgumentError, match=r"nodelist: nodes \[9\] are not in G"):
        graph_laplacian(G, nodelist=[0, 1, 9])
    with pytest.raises(InvalidArgumentError, match="nodelist: .*duplicate"):
        graph_laplacian(G, nodelist=[0, 1, 1, 2, 3])
    # a subset of the nodes: the Laplacian of the induced subgraph, as networkx computes it
    np.testing.assert_allclose(graph_laplacian(G, nodelist=[2, 1, 0]),
                               nx.laplacian_matrix(G, nodelist=[2, 1, 0], weight=None).toarray())
