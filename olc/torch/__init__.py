"""olc.torch — PyTorch integration (loaded on demand: ``olc.torch`` imports torch).

* :class:`TorchOracle` — a ``torch.nn.Module`` + loss + dataset as a flat-vector gradient
  oracle (values, gradients, HVPs through ``torch.func``); also ``olc.oracles.TorchOracle``.
* :func:`flatten` / :func:`unflatten` — parameters <-> one flat vector.
* :class:`MetaOptOptimizer` — Alg. 7 of nonconvex-meta-optimization as a ``torch.optim.Optimizer``.
* :func:`sequential_stability` — train a module with the optimization LTV's own update and bound its
  (κ, γ) sequential stability matrix-free (Hessian-vector products; nonconvex-meta-optimization Def. 3).
"""

from ..oracles.torch_adapter import TorchOracle
from ..oracles.torch_adapter import flatten_params as flatten
from ..oracles.torch_adapter import unflatten_params as unflatten
from .metaopt import MetaOptOptimizer
from .stability import sequential_stability

__all__ = ["TorchOracle", "flatten", "unflatten", "MetaOptOptimizer", "sequential_stability"]
