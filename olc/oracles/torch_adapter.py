"""PyTorch adapter: any ``torch.nn.Module`` + loss + dataset as a flat-vector gradient oracle.

The parameters of the module are concatenated (in ``named_parameters()`` order) into one
vector ``x`` of length ``dim``; at the boundary ``x``, gradients and Hessian-vector products
are float64 numpy arrays, inside everything is torch (``float64`` by default, ``float32`` on
request, CPU or CUDA). Values and gradients come from ``torch.func.grad_and_value`` over
``torch.func.functional_call``; HVPs are forward-over-reverse (``jvp`` of ``grad``), with a
reverse-over-reverse (``vjp`` of ``grad``) fallback for modules without forward-mode rules;
:meth:`TorchOracle.hvp_batch` vectorises many of them with ``torch.func.vmap``.

The user's module is never converted or moved: the oracle evaluates it functionally, with
its own float64 (or float32) copies of the parameters and buffers on its device, so a float32
training loop on the same module keeps working afterwards.

This is how the deep-learning workloads of ``nonconvex-meta-optimization`` (Sec. 4, App. E.2:
an MLP on MNIST, trained "on a fixed batch" or with i.i.d. minibatches) become oracles for
the optimization LTV (App. B) and the meta-optimizer (Alg. 7).

torch is imported inside functions only, so ``import olc.oracles`` does not load it.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, positive_int, real_tensor
from ..errors import BackendUnavailableError, InvalidArgumentError, ShapeError
from .base import GradientOracle, sample_indices

__all__ = ["TorchOracle", "flatten_params", "unflatten_params"]


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError("TorchOracle needs PyTorch: pip install 'olc[torch]'") from exc
    return torch


def _param_list(params):
    torch = _torch()
    if isinstance(params, torch.nn.Module):
        return [p for _, p in params.named_parameters()]
    if isinstance(params, dict):
        return list(params.values())
    return list(params)


def flatten_params(params):
    """Concatenate tensors into one 1-D tensor.

    Parameters
    ----------
    params : torch.nn.Module parameters, dict or list of torch.Tensor
    """
    torch = _torch()
    tensors = _param_list(params)
    if not tensors:
        raise InvalidArgumentError("params: nothing to flatten (no tensors / the module has no parameters)")
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten_params(vector, like):
    """Split a flat vector into tensors shaped like ``like``.

    Parameters
    ----------
    vector : torch.Tensor or ndarray
        The results are views of a tensor when ``vector`` is one.
    like : torch.nn.Module, dict or sequence
        A module (returns ``{name: tensor}`` in ``named_parameters()`` order), a dict of tensors
        (returns a dict with the same keys) or a sequence of tensors or shapes (returns a list).
    """
    torch = _torch()
    if isinstance(like, torch.nn.Module):
        like = dict(like.named_parameters())
    keys = list(like.keys()) if isinstance(like, dict) else None
    items = list(like.values()) if keys is not None else list(like)
    shapes = [tuple(t.shape) if hasattr(t, "shape") else tuple(t) for t in items]
    sizes = [int(np.prod(s)) for s in shapes]
    vector = real_tensor(vector, "vector")
    if vector.ndim != 1 or vector.shape[0] != sum(sizes):
        raise ShapeError(f"vector: expected shape ({sum(sizes)},), got {tuple(vector.shape)}")
    parts = [chunk.view(s) for chunk, s in zip(torch.split(vector, sizes), shapes)]
    return dict(zip(keys, parts)) if keys is not None else parts


class TorchOracle(GradientOracle):
    """A ``torch.nn.Module`` with a loss on a dataset, seen as ``f: R^dim -> R``.

    ``f(x) = loss_fn(module_x(X_B), y_B)`` where ``module_x`` is the module with its
    parameters replaced by the flat vector ``x`` and ``B`` is the minibatch (all rows when
    ``batch=None``). ``loss_fn`` must return a scalar (use a mean reduction).

    Parameters
    ----------
    module : torch.nn.Module
        Must have at least one parameter. It is **not** converted or moved: the oracle calls it
        through ``torch.func.functional_call`` with parameters built from ``x`` and with its own
        copies of the module's buffers in ``dtype`` on ``device`` (copied at construction;
        batch-norm statistics updated in training mode change those copies, never the user's
        buffers). Its own parameters are only changed by :meth:`set_flat`. Train/eval mode is
        read from the module at every call: call ``module.eval()`` if it uses dropout or
        batch-norm statistics and you want a deterministic oracle.
    loss_fn : callable ``(outputs, targets) -> scalar tensor``
    X, y : arrays or tensors with the same first dimension. Integer ``y`` (class labels for
        ``CrossEntropyLoss``) keeps an integer dtype; floating ``y`` is cast to ``dtype``.
    batch_size : int, optional
        Minibatch size for :meth:`sample_batch` (rows drawn without replacement from a seeded
        generator); ``None`` means full batch (a deterministic oracle).
    dtype : torch dtype, default ``torch.float64``
    device : str or torch.device, optional
        ``"cuda"`` raises :class:`~olc.errors.BackendUnavailableError` when no GPU is visible.
    name : str, optional

    At construction one forward pass and loss evaluation on the first sample (in eval mode, the
    module's mode restored afterwards) checks that ``X``/``y`` fit the module and ``loss_fn``
    (:class:`~olc.errors.ShapeError` naming ``X`` otherwise).
    """

    has_hvp = True

    def __init__(self, module, loss_fn, X, y, batch_size: int | None = None, dtype=None, device=None, *,
                 name: str | None = None):
        torch = _torch()
        if not isinstance(module, torch.nn.Module):
            raise InvalidArgumentError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
        if not callable(loss_fn):
            raise InvalidArgumentError(f"loss_fn: expected a callable (outputs, targets) -> scalar, "
                                       f"got {loss_fn!r}")
        dtype = torch.float64 if dtype is None else dtype
        if dtype not in (torch.float64, torch.float32):
            raise InvalidArgumentError(f"dtype: expected torch.float64 or torch.float32, got {dtype}")
        try:
            device = torch.device("cpu" if device is None else device)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"device: expected a torch device such as 'cpu', 'cuda' or 'cuda:0', "
                                       f"got {device!r} ({exc})") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailableError(f"device: {device} requested but torch.cuda.is_available() "
                                          "is False")
        named = list(module.named_parameters())
        if not named:
            raise InvalidArgumentError(f"module: {type(module).__name__} has no parameters; "
                                       "nothing to optimize")
        self._torch = torch
        self.module, self.loss_fn, self.dtype, self.device = module, loss_fn, dtype, device
        self.names = [n for n, _ in module.named_parameters()]
        self.shapes = [tuple(p.shape) for _, p in module.named_parameters()]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        super().__init__(sum(self.sizes), name=name or f"TorchOracle({type(module).__name__})")

        self.X = self._as_tensor(X, "X", float_only=True)
        self.y = self._as_tensor(y, "y", float_only=False)
        if self.X.shape[0] != self.y.shape[0] or self.X.shape[0] == 0:
            raise ShapeError(f"y: expected {self.X.shape[0]} rows to match X (non-empty), got shape "
                             f"{tuple(self.y.shape)}")
        self.n_samples = int(self.X.shape[0])
        self.batch_size = None if batch_size is None else positive_int(batch_size, "batch_size")
        self._hvp_mode = "jvp"
        self._vmap_ok = True
        self._batched_grads_ok = True
        self.hvp_chunk = 64          # rows per vmapped call of hvp_batch (bounds the activation memory)
        # the oracle's own float copies of the buffers (batch-norm statistics, ...) in dtype on device;
        # non-float buffers (counters) keep their dtype; clone() so that nothing aliases the user's tensors
        self._buffers = {n: (b.detach().to(device=device, dtype=dtype) if b.is_floating_point()
                             else b.detach().to(device=device)).clone()
                         for n, b in module.named_buffers()}

        from torch.func import functional_call

        from ..torch._util import model_loss

        def loss(theta, Xb, yb):
            params = dict(zip(self.names, [c.view(s) for c, s in zip(torch.split(theta, self.sizes),
                                                                        self.shapes)]))
            return model_loss(self.module, lambda X_: functional_call(self.module, {**params, **self._buffers}, (X_,)),
                              self.loss_fn, Xb, yb)

        self._loss = loss
        self._dry_run()

    def _dry_run(self):
        """One forward pass and loss on the first sample, in eval mode (no buffer updates), so that
        a dataset that does not fit the module fails here, with a clear message, not at first use."""
        torch, module = self._torch, self.module
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                self._loss(self._theta(self.x0()), self.X[:1], self.y[:1])    # the oracle's dtype/device
        except ShapeError as exc:
            if exc.__cause__ is None:  # not an error of the module or loss_fn (model_loss chains those)
                raise
            cause = exc.__cause__
            raise ShapeError(f"X: the module {type(module).__name__} and loss_fn cannot be evaluated on X of shape "
                             f"{tuple(self.X.shape)} with y of shape {tuple(self.y.shape)} (a dry run on one "
                             f"sample failed: {type(cause).__name__}: {cause})") from cause
        finally:
            module.train(was_training)

    # ------------------------------------------------------------------ conversions
    def _as_tensor(self, a, name, float_only):
        torch = self._torch
        t = real_tensor(a, name)  # real numbers only (no strings, None, objects, ragged, complex, bool); dtype kept
        if t.ndim == 0:
            raise ShapeError(f"{name}: expected data with a first (sample) axis, got a scalar")
        if not float_only and not t.is_floating_point():
            return t.to(device=self.device)
        if not t.is_floating_point():
            t = t.to(torch.float64)
        if not bool(torch.isfinite(t).all()):
            as_array(t.detach().cpu().numpy(), name)  # raises NonFiniteError naming the argument
        return t.to(device=self.device, dtype=self.dtype)

    def _theta(self, x):
        return self._torch.as_tensor(x, dtype=self.dtype, device=self.device)

    def _data(self, batch):
        if batch is None:
            return self.X, self.y
        idx = np.asarray(batch)
        if (idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu" or idx.min() < 0
                or idx.max() >= self.n_samples):
            raise InvalidArgumentError(f"batch: expected a non-empty 1-D integer index array into "
                                       f"[0, {self.n_samples}) or None, got {batch!r}")
        t = self._torch.as_tensor(idx, dtype=self._torch.long, device=self.device)
        return self.X[t], self.y[t]

    @staticmethod
    def _np(t):
        return t.detach().cpu().numpy().astype(np.float64)

    # ------------------------------------------------------------------ oracle hooks
    @property
    def stochastic(self) -> bool:
        return self.batch_size is not None and self.batch_size < self.n_samples

    def sample_batch(self, rng):
        """A sorted numpy array of ``batch_size`` distinct row indices (``None`` when full-batch).

        Parameters
        ----------
        rng : numpy.random.Generator
        """
        return sample_indices(rng, self.n_samples, self.batch_size)

    def _value(self, x, batch):
        with self._torch.no_grad():
            return float(self._loss(self._theta(x), *self._data(batch)))

    def _value_and_grad(self, x, batch):
        from torch.func import grad_and_value

        g, v = grad_and_value(self._loss)(self._theta(x), *self._data(batch))
        return float(v), self._np(g)

    def _hvp(self, x, v, batch):
        from torch.func import grad, jvp, vjp

        theta, vt = self._theta(x), self._theta(v)
        Xb, yb = self._data(batch)
        g = grad(self._loss)
        if self._hvp_mode == "jvp":
            try:
                return self._np(jvp(lambda th: g(th, Xb, yb), (theta,), (vt,))[1])
            except (RuntimeError, NotImplementedError):
                self._hvp_mode = "vjp"  # no forward-mode rule for some op: fall back for good
        _, pullback = vjp(lambda th: g(th, Xb, yb), theta)
        return self._np(pullback(vt)[0])

    def _hvp_at(self, x, batch):
        """Reverse-over-reverse at one point with the gradient's graph kept: ``g = ∇f(x)`` is built once
        (``create_graph``) and every block of vectors is one batched backward pass through it
        (``is_grads_batched``, chunks of ``hvp_chunk`` rows; a loop where a batching rule is missing).
        Several times cheaper per product than a fresh ``jvp``-of-``grad`` when the point is reused."""
        from ..torch._util import autograd_grad

        torch = self._torch
        theta = self._theta(x).detach().requires_grad_(True)
        with torch.enable_grad():
            g = autograd_grad(self._loss(theta, *self._data(batch)), theta, create_graph=True)[0]
        if not g.requires_grad:                  # the gradient does not depend on x (constant or linear loss): H = 0
            return lambda V: np.zeros_like(V)

        def one(v):
            out = torch.autograd.grad(g, theta, grad_outputs=v, retain_graph=True, allow_unused=True)[0]
            return torch.zeros_like(v) if out is None else out

        def chunk(W):
            if self._batched_grads_ok:
                try:
                    out = torch.autograd.grad(g, theta, grad_outputs=W, retain_graph=True, allow_unused=True,
                                              is_grads_batched=True)[0]
                    return torch.zeros_like(W) if out is None else out
                except (RuntimeError, NotImplementedError):
                    self._batched_grads_ok = False      # no batching rule for some op: loop for good
            return torch.stack([one(w) for w in W])

        def apply(V):
            Vt, step = self._theta(V), max(1, int(self.hvp_chunk))
            return self._np(torch.cat([chunk(Vt[i:i + step]) for i in range(0, Vt.shape[0], step)]))

        return apply

    def _hvp_batch(self, x, V, batch):
        """One point shared by every row: :meth:`_hvp_at`. One point per row: ``vmap`` of the HVP over the
        rows, in chunks of ``hvp_chunk`` rows; falls back to a loop for modules without batching rules."""
        if x.ndim == 1:
            return self._hvp_at(x, batch)(V)
        if not self._vmap_ok:
            return super()._hvp_batch(x, V, batch)
        from torch.func import grad, jvp, vjp, vmap

        torch = self._torch
        Xb, yb = self._data(batch)
        g = grad(self._loss)
        theta, Vt = self._theta(x), self._theta(V)

        def fwd(th, v):
            return jvp(lambda t: g(t, Xb, yb), (th,), (v,))[1]

        def rev(th, v):
            return vjp(lambda t: g(t, Xb, yb), th)[1](v)[0]

        k, step = Vt.shape[0], max(1, int(self.hvp_chunk))
        for _ in range(2):
            f = vmap(fwd if self._hvp_mode == "jvp" else rev)
            try:
                return self._np(torch.cat([f(theta[i:i + step], Vt[i:i + step])
                                           for i in range(0, k, step)]))
            except (RuntimeError, NotImplementedError):
                if self._hvp_mode != "jvp":
                    break
                self._hvp_mode = "vjp"      # no forward-mode rule for some op: reverse-over-reverse for good
        self._vmap_ok = False               # no batching rule for some op: loop over the rows for good
        return super()._hvp_batch(x, V, batch)

    def to(self, dtype=None, device=None) -> TorchOracle:
        """A twin of this oracle (same module, loss, data and batch size) computing in ``dtype`` on ``device``.

        E.g. float32 Hessian-vector products on a GPU for an analysis whose trajectory was recorded in
        float64. The module is not touched.

        Parameters
        ----------
        dtype, device : optional
            Each defaults to this oracle's.
        """
        return TorchOracle(self.module, self.loss_fn, self.X, self.y, self.batch_size,
                           dtype=self.dtype if dtype is None else dtype,
                           device=self.device if device is None else device, name=self.name)

    def _hessian(self, x, batch):
        """``torch.func.hessian`` for small ``dim``; beyond 256 parameters rows of HVPs with ``e_i`` in chunks
        of ``hvp_chunk`` through one kept gradient graph (:meth:`_hvp_at`; ``jacfwd(jacrev)`` pushes all
        ``dim`` tangents at once: at ~2,000 parameters 3x slower and ``dim`` times the activation memory)."""
        if self.dim <= 256:
            from torch.func import hessian

            return self._np(hessian(self._loss)(self._theta(x), *self._data(batch)))
        eye, step, hv = np.eye(self.dim), max(1, int(self.hvp_chunk)), self._hvp_at(x, batch)
        H = np.concatenate([hv(eye[i:i + step]) for i in range(0, self.dim, step)])
        return 0.5 * (H + H.T)          # rows are HVPs with e_i: symmetric up to rounding

    # ------------------------------------------------------------------ module <-> vector
    def x0(self) -> np.ndarray:
        """The module's current parameters as a flat float64 vector (the usual starting point)."""
        return self._np(flatten_params(self.module))

    def set_flat(self, x) -> None:
        """Write the flat vector ``x`` into the module's parameters.

        In place, each parameter keeping its own dtype and device.

        Parameters
        ----------
        x : array_like
        """
        x = self._check_x(x)
        parts = unflatten_params(self._theta(x), self.module)
        with self._torch.no_grad():
            for name, p in self.module.named_parameters():
                p.copy_(parts[name].to(dtype=p.dtype, device=p.device))

    def predict(self, x, X):
        """Outputs of the module with parameters ``x`` on inputs ``X``.

        Parameters
        ----------
        x : array_like
        X : ndarray
        """
        from torch.func import functional_call

        x = self._check_x(x)
        params = unflatten_params(self._theta(x), self.module)
        Xt = self._as_tensor(X, "X", float_only=True)
        with self._torch.no_grad():
            return functional_call(self.module, {**params, **self._buffers}, (Xt,)).detach().cpu().numpy()
