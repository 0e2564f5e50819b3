"""olc.torch — PyTorch integration (loaded on demand: ``olc.torch`` imports torch).

* :class:`TorchOracle` — a ``torch.nn.Module`` + loss + dataset as a flat-vector gradient
  oracle (values, gradients, HVPs through ``torch.func``); also ``olc.oracles.TorchOracle``.
* :func:`flatten` / :func:`unflatten` — parameters <-> one flat vector.
* :class:`MetaOptOptimizer` — Alg. 7 of nonconvex-meta-optimization as a ``torch.optim.Optimizer``.
* :func:`sequential_stability` — train a module with the optimization LTV's own update and bound its
  (κ, γ) sequential stability matrix-free (Hessian-vector products; nonconvex-meta-optimization Def. 3).
* :class:`MetaGradientSGD`, :class:`OptimisticMetaGradientSGD`, :class:`BMGSGD` — per-parameter
  learning rates learned by (optimistic / bootstrapped) meta-gradients (optimistic-meta-gradients).
* :class:`MetaMD`, :class:`MetaMDOptimizer` — meta mirror descent on networks (meta-mirror-descent).
* :class:`MAML`, :class:`FOMAML`, :class:`Reptile`, :class:`IMAML`, :class:`FOBMAML` — the MAML
  family on ``torch.nn.Module`` s (first-order-bilevel-maml), with :class:`TorchTask`.

Like ``olc.learners``, the package re-exports the ``__all__`` of each of its modules (``olc/_discover.py``): a new
module with an ``__all__`` is public without editing this file. See ``docs/torch.md``.
"""

from .._discover import export_all as _export_all
from ..oracles.torch_adapter import TorchOracle
from ..oracles.torch_adapter import flatten_params as flatten
from ..oracles.torch_adapter import unflatten_params as unflatten
from .metaopt import MetaOptOptimizer
from .stability import sequential_stability

__all__ = ["TorchOracle", "flatten", "unflatten", "MetaOptOptimizer", "sequential_stability"]
__all__ += [n for n in _export_all(__name__, __path__, globals()) if n not in __all__]
