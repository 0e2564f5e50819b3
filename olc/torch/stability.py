"""One call for the ML engineer: is training this network a sequentially stable LTV?

``nonconvex-meta-optimization`` (App. B, eqs. (1)–(3); Definition 3; Assumption 2; Fig. 3) models gradient descent
with weight decay on a network as the linear time-varying system ``z_{t+1} = A_t z_t + B u_t + w_t`` on
``z_t = [x_t; x_{t−1}; ∇f_{t−1}(x_{t−1})]`` and assumes it is ``(κ, γ)`` sequentially stable:
``‖A_s ⋯ A_r‖ ≤ κ²(1−γ)^{|I|}`` for every interval. The paper checks this only for a small network ("computing this
for larger networks is infeasible": ``A_t`` is ``3n × 3n``). :func:`sequential_stability` checks it for a real
``torch.nn.Module`` matrix-free: it trains a copy of the parameters with the LTV's own update (SGD with weight decay,
``x_{t+1} = (1−δ)x_t − η∇f_t(x_t)``; optional warm-up steps first), records the trajectory and bounds every interval
norm with Golub–Kahan–Lanczos on Hessian-vector products (:func:`olc.systems.sequential_stability`, operator path).
Memory ``O(T·n)``.
"""

from __future__ import annotations

from .._validate import positive_int
from ..oracles.torch_adapter import TorchOracle, _torch
from ..systems.optimization import OptimizationSystem
from ..systems.stability import sequential_stability as _sequential_stability

__all__ = ["sequential_stability"]


def sequential_stability(model, loss_fn, X, y, *, lr: float, steps: int, weight_decay: float = 0.0,
                         batch_size: int | None = None, warmup_steps: int = 0, device=None, dtype=None,
                         hvp_dtype=None, form: str = "gd", hessian_nodes: int = 1, secant: bool = True,
                         seed: int = 0, gamma: float | None = None, max_length: int | None = None,
                         rule: str = "bound", rtol: float = 1e-3, plan: str = "auto", block="auto",
                         diagnostics: bool = True, time_limit: float | None = 300.0, progress=None,
                         max_iter: int = 60, probes: int = 8, return_system: bool = False):
    """Train ``model`` for ``steps`` SGD steps as the optimization LTV and measure its (κ, γ) stability.

    Parameters
    ----------
    model : torch.nn.Module — never modified (the oracle works on its own copies of the
        parameters and buffers; the user's dtype, device and training loop are untouched).
    loss_fn : ``(outputs, targets) -> scalar`` (mean reduction).
    X, y : the training data (arrays or tensors, same first dimension).
    lr, weight_decay : learning rate ``η`` and ``δ`` (``x_{t+1} = (1−δ)x_t − η∇f_t(x_t)``).
    steps : the number of recorded steps ``T`` (every interval of ``A_0..A_{T−1}`` is analysed).
    batch_size, seed : minibatch size (``None``: full batch, the paper's deterministic setting); each
        step draws its minibatch from ``seed``, and ``A_t`` uses that step's minibatch.
    warmup_steps : steps of the same update taken first and not recorded ("after training").
    device, dtype, hvp_dtype : ``"cpu"`` (default), ``"cuda"``, ...; ``dtype``: the trajectory's torch dtype
        (default float64); ``hvp_dtype``: the Hessian-vector products' (e.g. ``torch.float32`` —
        the Krylov bounds are still computed in float64, for the float32 ``A_t``).
    form, hessian_nodes, secant : the LTV (:class:`~olc.systems.OptimizationSystem`): ``"gd"`` or
        ``"delayed"``; Gauss–Legendre nodes of the mean-value Hessian (default 1, the midpoint: each node costs one
        HVP per application, and with the secant correction eq. (1) holds exactly for any number of nodes).
    gamma, max_length, rule, rtol, plan, block, diagnostics, time_limit, progress, max_iter, probes :
        passed to :func:`olc.systems.sequential_stability` (operator path).
    return_system : also return the :class:`~olc.systems.OptimizationSystem` (losses, iterates).

    Returns
    -------
    :class:`~olc.systems.SequentialStability` (``result.summary()`` explains it), or
    ``(result, system)`` with ``return_system=True``.

    Examples
    --------
    >>> import torch, olc.torch
    >>> _ = torch.manual_seed(0)
    >>> X = torch.randn(16, 3, dtype=torch.float64)
    >>> res = olc.torch.sequential_stability(torch.nn.Linear(3, 1).double(), torch.nn.MSELoss(), X,
    ...                                      X.sum(1, keepdim=True), lr=0.1, steps=5)
    >>> type(res).__name__, bool(res.kappa >= 1)
    ('SequentialStability', True)
    """
    torch = _torch()
    oracle = TorchOracle(model, loss_fn, X, y, batch_size=batch_size, dtype=dtype or torch.float64,
                         device=device, name=f"TorchOracle({type(model).__name__})")
    system = OptimizationSystem(oracle, lr, weight_decay, form=form, hessian_nodes=hessian_nodes, secant=secant,
                                seed=seed)
    steps = positive_int(steps, "steps")
    warmup_steps = positive_int(warmup_steps, "warmup_steps", minimum=0)
    x = oracle.x0()
    if warmup_steps:
        system.run(x, warmup_steps)
        x = system.x
    system.run(x, steps, seed=system._rng)          # the minibatch stream continues after the warm-up
    twin = None if hvp_dtype is None or hvp_dtype == oracle.dtype else oracle.to(dtype=hvp_dtype)
    res = _sequential_stability(system.operator(oracle=twin), gamma, max_length, rule=rule, rtol=rtol, plan=plan,
                                block=block, diagnostics=diagnostics, time_limit=time_limit, progress=progress,
                                max_iter=max_iter, probes=probes, seed=seed, method="operator")
    return (res, system) if return_system else res
