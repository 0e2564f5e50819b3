"""olc's PyTorch workloads against their peers, side by side in one run (issue 14's targets).

Run it in its own virtual environment (the peers are *not* olc dependencies; see benchmarks/README.md)::

    /tmp/venv14/bin/python benchmarks/torch_peers.py --json torch_peers.json

Rows (each timing is the best of ``--repeats`` interleaved rounds, so every ratio compares
measurements taken under the same load):

* ``maml``: one MAML meta-gradient (K = 5 inner SGD steps) on a 1-40-40-1 ReLU MLP, 10 support
  and 10 query points, float64 — olc.torch.MAML vs ``higher`` vs ``torchopt`` (vs ``learn2learn``
  when it imports); target: olc <= 1.2x the fastest of higher / torchopt. The meta-gradients are
  compared (max abs difference).
* ``imaml``: one iMAML meta-gradient (20 inner GD steps, CG = 10) on the same MLP — olc.torch.IMAML
  vs a plain-torch implementation (autograd inner loop, CG on a double-backward graph); target
  <= 1.2x.
* ``metaopt``: time per training step of MetaOptOptimizer (H = 8, L = 2; exact and ``rollout="recorded"``)
  and of the frozen M against
  torch.optim.SGD on the digits CNN (1,898 parameters, full batch of 256, float32); targets <= 4x and
  <= 1.2x; memory of the histories reported against the model size.
* ``meta-lr``: MetaGradientSGD and OptimisticMetaGradientSGD per step against SGD; target <= 2x.
* ``large``: the same per-step ratios on a >= 1M-parameter MLP (also what benchmarks/gpu_check_torch.sh
  runs on CUDA with ``--device cuda``).

The machine may be shared: absolute times are then inflated; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import torch


def best_interleaved(fns: dict, repeats: int, number: int) -> dict:
    """Best-of-``repeats`` seconds per call of each function, rounds interleaved (same load for all)."""
    for f in fns.values():  # warm-up
        f()
    best = {k: math.inf for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            for _ in range(number):
                f()
            best[k] = min(best[k], (time.perf_counter() - t) / number)
    return best


def _maxdiff(a, b):
    return max(float((x.detach() - y.detach()).abs().max()) for x, y in zip(a, b))


# ---------------------------------------------------------------------------- MAML
def _small_mlp_task(seed, device):
    """The 1-40-40-1 ReLU MLP (float64) and a random task of 10 support / 10 query points."""
    torch.manual_seed(seed)
    dt = torch.float64
    net = torch.nn.Sequential(torch.nn.Linear(1, 40), torch.nn.ReLU(), torch.nn.Linear(40, 40), torch.nn.ReLU(),
                              torch.nn.Linear(40, 1)).to(device=device, dtype=dt)
    return net, tuple(torch.randn(10, 1, dtype=dt, device=device) for _ in range(4))


def bench_maml(repeats, number, device):
    import olc.torch as ot

    net, (Xs, ys, Xq, yq) = _small_mlp_task(0, device)
    K, a = 5, 0.01
    mse = torch.nn.functional.mse_loss
    learner, task = ot.MAML(net, mse, a, K), ot.TorchTask(Xs, ys, Xq, yq)
    fns = {"olc": lambda: learner.meta_gradient(task)}
    peers = {}
    try:
        import higher

        sgd = torch.optim.SGD(net.parameters(), lr=a)

        def h():
            with higher.innerloop_ctx(net, sgd, copy_initial_weights=False) as (fnet, diffopt):
                for _ in range(K):
                    diffopt.step(mse(fnet(Xs), ys))
                return torch.autograd.grad(mse(fnet(Xq), yq), net.parameters())

        fns["higher"] = h
        peers["higher"] = higher.__version__ if hasattr(higher, "__version__") else "installed"
    except ImportError:
        pass
    try:
        import torchopt

        def to():
            p0 = list(net.parameters())
            inner = torchopt.MetaSGD(net, lr=a)
            state = torchopt.extract_state_dict(net)
            for _ in range(K):
                inner.step(mse(net(Xs), ys))
            g = torch.autograd.grad(mse(net(Xq), yq), p0)
            torchopt.recover_state_dict(net, state)
            return g

        fns["torchopt"] = to
        peers["torchopt"] = torchopt.__version__
    except ImportError:
        pass
    try:
        import learn2learn as l2l

        wrapped = l2l.algorithms.MAML(net, lr=a, first_order=False)

        def l2():
            learner2 = wrapped.clone()
            for _ in range(K):
                learner2.adapt(mse(learner2(Xs), ys))
            return torch.autograd.grad(mse(learner2(Xq), yq), net.parameters())

        fns["learn2learn"] = l2
        peers["learn2learn"] = l2l.__version__
    except Exception:  # noqa: BLE001 - learn2learn does not build on every Python
        peers["learn2learn"] = "not installable here"
    ref = fns["olc"]()
    agree = {k: _maxdiff(f(), ref) for k, f in fns.items() if k != "olc"}
    t = best_interleaved(fns, repeats, number)
    fastest = min((k for k in t if k in ("higher", "torchopt")), key=t.get, default=None)
    ratio = t["olc"] / t[fastest] if fastest else None
    return {"name": "maml", "seconds": t, "max_abs_diff_vs_olc": agree, "peers": peers, "fastest_peer": fastest,
            "ratio_olc_vs_fastest": ratio, "target": "<= 1.2", "target_met": None if ratio is None else ratio <= 1.2}


def bench_maml_large(repeats, number, device):
    """MAML (K = 5) on the 1.3M-parameter MLP: time on ``device`` and agreement with the CPU (float64)."""
    import copy

    import olc.torch as ot

    make, X, y = _mlp_problem("cpu", torch.float64)
    net = make()
    task = ot.TorchTask(X[:64], y[:64], X[64:128], y[64:128])
    ce = torch.nn.functional.cross_entropy
    ref = ot.MAML(net, ce, 0.05, 5).meta_gradient(task)
    dev_net = copy.deepcopy(net).to(device)
    learner = ot.MAML(dev_net, ce, 0.05, 5)
    dev_task = task.to(device)
    g = learner.meta_gradient(dev_task)
    diff = max(float((a.cpu() - b).abs().max()) for a, b in zip(g, ref))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def run():
        learner.meta_gradient(dev_task)
        sync()

    t = best_interleaved({"olc MAML K=5": run}, repeats, number)
    n = sum(p.numel() for p in net.parameters())
    return {"name": "maml_large", "device": device, "n_params": n, "seconds": t, "max_abs_diff_vs_cpu_float64": diff,
            "agrees": diff < 1e-8}


# ---------------------------------------------------------------------------- iMAML
def bench_imaml(repeats, number, device):
    import olc.torch as ot

    net, (Xs, ys, Xq, yq) = _small_mlp_task(1, device)
    lam, cg, lr, steps = 2.0, 10, 0.02, 20
    mse = torch.nn.functional.mse_loss
    learner, task = ot.IMAML(net, mse, lam, cg, lr, steps), ot.TorchTask(Xs, ys, Xq, yq)
    names = [n for n, _ in net.named_parameters()]

    def plain():
        theta = [p.detach() for p in net.parameters()]
        phi = [t.clone().requires_grad_() for t in theta]
        for _ in range(steps):  # inner problem (6) by GD
            out = torch.func.functional_call(net, dict(zip(names, phi)), (Xs,))
            g = torch.autograd.grad(mse(out, ys), phi)
            with torch.no_grad():
                phi = [(p - lr * (gi + lam * (p - t))).requires_grad_() for p, gi, t in zip(phi, g, theta)]
        out = torch.func.functional_call(net, dict(zip(names, phi)), (Xq,))
        b = torch.cat([x.reshape(-1) for x in torch.autograd.grad(mse(out, yq), phi)])
        out = torch.func.functional_call(net, dict(zip(names, phi)), (Xs,))
        gtr = torch.autograd.grad(mse(out, ys), phi, create_graph=True)
        sizes = [p.numel() for p in phi]

        def mv(v):
            hv = torch.autograd.grad(gtr, phi, [c.view_as(p) for c, p in zip(torch.split(v, sizes), phi)],
                                     retain_graph=True)
            return v + torch.cat([h.reshape(-1) for h in hv]) / lam

        x, r = torch.zeros_like(b), b.clone()
        p, rr = r.clone(), r @ r
        for _ in range(cg):
            Mp = mv(p)
            alpha = rr / (p @ Mp)
            x, r = x + alpha * p, r - alpha * Mp
            rr_new = r @ r
            p, rr = r + (rr_new / rr) * p, rr_new
        return x

    diff = float((torch.cat([g.reshape(-1) for g in learner.meta_gradient(task)]) - plain()).abs().max())
    t = best_interleaved({"olc": lambda: learner.meta_gradient(task), "plain torch CG": plain}, repeats, number)
    ratio = t["olc"] / t["plain torch CG"]
    return {"name": "imaml", "seconds": t, "max_abs_diff_vs_olc": diff, "ratio_olc_vs_plain": ratio,
            "target": "<= 1.2", "target_met": ratio <= 1.2}


# ---------------------------------------------------------------------------- per-step optimizers
def _cnn_problem(device, dtype):
    from olc.oracles.data import digits_cnn, load_digits_dataset

    d = load_digits_dataset(seed=0)
    X = torch.tensor(d.X_train[:256], dtype=dtype, device=device)
    y = torch.tensor(d.y_train[:256], device=device)
    return (lambda: digits_cnn(seed=0).to(device=device, dtype=dtype)), X, y


def _mlp_problem(device, dtype, width=1024):
    def make():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(256, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
                                   torch.nn.ReLU(), torch.nn.Linear(width, 10)).to(device=device, dtype=dtype)

    g = torch.Generator().manual_seed(0)
    X = torch.randn(512, 256, generator=g).to(device=device, dtype=dtype)
    y = torch.randint(0, 10, (512,), generator=g).to(device)
    return make, X, y


def _stepper(make, X, y, opt_factory, sync):
    model = make()
    opt = opt_factory(model.parameters())
    lossf = torch.nn.CrossEntropyLoss()

    def closure():
        opt.zero_grad()
        loss = lossf(model(X), y)
        loss.backward()
        return loss

    def step():
        opt.step(closure)
        sync()

    for _ in range(12):  # past MetaOpt's warm-up (H + L - 1 steps) so meta-steps are timed
        step()
    return step, opt, model


def bench_steps(problem, repeats, number, device, label):
    from olc.torch import MetaGradientSGD, MetaOptOptimizer, OptimisticMetaGradientSGD

    dtype = torch.float32
    make, X, y = problem(device, dtype)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    factories = {
        "SGD": lambda p: torch.optim.SGD(p, lr=0.05),
        "MetaOpt H=8 L=2": lambda p: MetaOptOptimizer(p, lr=0.05, H=8, L=2, meta_lr=1e-4),
        "MetaOpt H=8 L=2 recorded": lambda p: MetaOptOptimizer(p, lr=0.05, H=8, L=2, meta_lr=1e-4, rollout="recorded"),
        "MetaOpt frozen": lambda p: MetaOptOptimizer(p, lr=0.05, H=8, L=2, frozen=True),
        "MetaGradientSGD": lambda p: MetaGradientSGD(p, lr=0.05, meta_lr=1.0),
        "OptimisticMetaGradientSGD": lambda p: OptimisticMetaGradientSGD(p, lr=0.05, meta_lr=1.0),
    }
    steppers, opts, n = {}, {}, None
    for k, f in factories.items():
        steppers[k], opts[k], model = _stepper(make, X, y, f, sync)
        n = sum(p.numel() for p in model.parameters())
    t = best_interleaved(steppers, repeats, number)
    r = {k: t[k] / t["SGD"] for k in t}
    mo = opts["MetaOpt H=8 L=2"]
    targets = {"MetaOpt H=8 L=2": 4.0, "MetaOpt H=8 L=2 recorded": 4.0, "MetaOpt frozen": 1.2, "MetaGradientSGD": 2.0,
               "OptimisticMetaGradientSGD": 2.0}
    return {"name": f"steps ({label})", "n_params": n, "device": device, "seconds_per_step": t, "ratio_vs_sgd": r,
            "metaopt_history_floats": (8 + 2 * 2) * n, "metaopt_history_bytes": mo.history_bytes(),
            "metaopt_state_floats": mo.state_floats(), "metaopt_history_vs_model": mo.state_floats() / n,
            "targets": targets, "targets_met": {k: r[k] <= v for k, v in targets.items()}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None, help="write the records here (atomically)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--number", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", default="maml,imaml,metaopt,large")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    only = set(args.only.split(","))
    recs = []
    if "maml" in only:
        recs.append(bench_maml(args.repeats, args.number, args.device))
    if "maml_large" in only:
        recs.append(bench_maml_large(max(2, args.repeats // 3), max(1, args.number // 5), args.device))
    if "imaml" in only:
        recs.append(bench_imaml(args.repeats, max(1, args.number // 4), args.device))
    if "metaopt" in only:
        recs.append(bench_steps(_cnn_problem, args.repeats, args.number, args.device, "digits CNN"))
    if "large" in only:
        recs.append(bench_steps(_mlp_problem, max(3, args.repeats // 2), max(2, args.number // 5), args.device,
                                "1.3M-parameter MLP"))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    meta = {"python": sys.version.split()[0], "torch": torch.__version__, "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "loadavg_at_end": load,
            "note": "ratios come from interleaved best-of-N rounds in one process; absolute times depend on load"}
    for r in recs:
        print(json.dumps(r, default=float))
    print(json.dumps(meta))
    if args.json:
        from olc._io import atomic_write_json

        atomic_write_json(args.json, {"meta": meta, "records": recs})
    return recs


if __name__ == "__main__":
    main()
