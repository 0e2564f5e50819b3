"""meta-lr-cnn and metamd-rotated-digits (issue 14) on reduced configs: registered, seeded, JSON-serialisable,
the experiment interface (EXTRAS, PRIMARY, metrics, curves), graded claims, grid positions, PROTOCOL tables, PNGs."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from olc import experiments  # noqa: E402
from olc.errors import InvalidArgumentError  # noqa: E402
from olc.experiments import _torch_training as tt  # noqa: E402
from olc.experiments import meta_lr_cnn as mlr  # noqa: E402
from olc.experiments import metamd_rotated_digits as mrd  # noqa: E402


def _interface(mod, res, tmp_path):
    json.dumps(res)
    assert mod.EXTRAS == ("torch", "data") and mod.PRIMARY in res["metrics"]
    assert all(isinstance(v, float) for v in res["metrics"].values())
    assert all(isinstance(c, list) and all(isinstance(x, float) for x in c) for c in res["curves"].values())
    for c in res["claims"]:
        assert c["verdict"] in ("holds", "does not hold") and c["paper"] and c["criterion"] and c["ours"]
    assert {r["setting"] for r in res["protocol"]} and "| paper | olc | why |" in mod.__doc__
    assert "PROTOCOL" in mod.summary(res)
    assert mod.plot(res, str(tmp_path))[0].endswith(".png")


def test_meta_lr_cnn_reduced(tmp_path):
    assert experiments.registry()["meta-lr-cnn"].endswith("meta_lr_cnn")
    cfg = mlr.Config(T=8, batch=16, eval_every=4, n_seeds=2, tune_seeds=1, sgd_grid=(0.1, 0.3),
                     meta_grid=(1.0, 10.0), max_extend=0)
    res = mlr.run(cfg)
    _interface(mlr, res, tmp_path)
    assert set(res["accuracy"]) == set(mlr.METHODS) and np.array(res["accuracy"]["SGD"]).shape == (2, 3)
    assert res["steps"] == [0, 4, 8]
    assert res["tuning"]["meta-gradient"]["base_lr"] == res["tuning"]["SGD"]["best"]
    assert mlr.run(cfg)["metrics"] == res["metrics"]  # same seed, same numbers
    with pytest.raises(InvalidArgumentError, match="n_seeds"):
        mlr.run(mlr.Config(n_seeds=1))


def test_metamd_rotated_digits_reduced(tmp_path):
    assert experiments.registry()["metamd-rotated-digits"].endswith("metamd_rotated_digits")
    cfg = mrd.Config(angles=(0, 45), horizon=3, task_batch=32, meta_steps=2, tasks_per_step=1, T=6, batch=32,
                     eval_every=3, n_seeds=2, sgd_grid=(0.3, 1.0), sgdm_grid=(0.1,), adam_grid=(0.01,),
                     eta_grid=(0.25,), max_extend=0)
    res = mrd.run(cfg)
    _interface(mrd, res, tmp_path)
    assert set(res["table"]["mean"]) == {*mrd.METHODS, mrd.ABLATION}
    assert set(res["table"]["mean"]["MetaMD"]) == {"0", "45"}
    assert res["optimum_positions"]["0"]["SGD"] in ("interior", "edge (low)", "edge (high)")
    assert len(res["meta_training"]["45"]["objective"]) == 2
    with pytest.raises(InvalidArgumentError, match="angles"):
        mrd.run(mrd.Config(angles=(0,)))
    with pytest.raises(InvalidArgumentError, match="m_init"):
        mrd.run(mrd.Config(m_init=10.0))


def test_rotated_domains_are_rotations():
    from scipy.ndimage import rotate
    from sklearn.datasets import load_digits

    doms = mrd.rotated_domains((0, 30), seed=0, n_train=100, n_val=50)
    assert doms[0]["train"][0].shape == (100, 64) and doms[30]["test"][0].shape == (1797 - 150, 64)
    assert np.array_equal(doms[0]["train"][1].numpy(), doms[30]["train"][1].numpy())  # one split for all domains
    train = np.random.default_rng(0).permutation(1797)[:100]
    raw = rotate(load_digits().images[train] / 16.0, 30.0, axes=(1, 2), reshape=False, order=1).reshape(100, -1)
    z = doms[30]["train"][0].numpy()
    sd = raw.std(0)
    keep = sd > 1e-6
    assert np.allclose((z * np.where(keep, sd, 1.0) + raw.mean(0))[:, keep], raw[:, keep])
    assert np.allclose(z.mean(0), 0.0) and not np.allclose(doms[0]["train"][0].numpy(), z)


def test_tune_extends_to_an_interior_optimum_and_flags_edges():
    res = tt.tune(lambda v: -(np.log10(v) - 2.0) ** 2, (1.0, 10.0), max_extend=3)  # optimum at 100
    assert res["best"] == pytest.approx(100.0) and res["position"] == "interior" and res["extended"] == 2
    edge = tt.tune(lambda v: v, (1.0, 3.0), max_extend=1)
    assert edge["position"] == "edge (high)" and edge["grid"] == [1.0, 3.0, 9.0]
    div = tt.tune(lambda v: None if v > 2 else v, (1.0, 2.0, 4.0))
    assert div["best"] == 2.0 and div["position"] == "interior" and div["scores"][-1] is None
    d = tt.paired_ci([1.0, 2.5, 3.0], [0.0, 1.0, 2.0])  # differences 1, 1.5, 1: t_{0.975,2} = 4.303
    assert d["diff"] == pytest.approx(7 / 6) and d["half_width"] == pytest.approx(4.303 * np.std([1, 1.5, 1], ddof=1)
                                                                                 / np.sqrt(3), rel=1e-3)
    assert d["significant"] and not tt.paired_ci([1.0, -1.0, 0.5], [0.0, 0.0, 0.0])["significant"]


def test_train_evaluates_at_the_end_and_pads_a_diverged_run():
    import torch

    torch.manual_seed(0)
    X, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    model = torch.nn.Linear(3, 2)
    out = tt.train(model, torch.optim.SGD(model.parameters(), lr=0.1), X, y, steps=7, batch=8,
                   rng=np.random.default_rng(0), eval_every=3, evals={"all": (X, y)})
    assert out["steps"] == [0, 3, 6, 7] and len(out["acc"]["all"]) == 4 and out["diverged_at"] is None
    model = torch.nn.Linear(3, 2)
    out = tt.train(model, torch.optim.SGD(model.parameters(), lr=1e30), X * 1e30, y, steps=7, batch=8,
                   rng=np.random.default_rng(0), eval_every=3, evals={"all": (X, y)})
    assert out["diverged_at"] is not None and out["steps"] == [0, 3, 6, 7] and len(out["loss"]) == 7
