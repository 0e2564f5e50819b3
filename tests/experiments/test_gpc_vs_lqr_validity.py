"""gpc-vs-lqr records runs of the linearised pendulum that leave its validity region, without warning."""

import warnings

from olc.experiments import gpc_vs_lqr as E
from olc.systems import LinearizationWarning


def test_left_validity_is_recorded_and_summarised():
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinearizationWarning)
        res = E.run(E.Config(T=200, systems=["pendulum", "double-integrator"], disturbances=["gaussian"]))
    pend, dint = res["runs"]
    assert pend["left_validity"]["lqr"] is not None and pend["left_validity"]["lqr"] > 0   # N(0, 0.1²) drives |θ| > 0.55
    assert "zero" not in pend["left_validity"]                    # diverged runs have no trace
    assert dint["left_validity"] == {}                            # no region: a plain LTI system
    assert "validity region" in E.summary(res) and "pendulum/gaussian/lqr" in E.summary(res)
