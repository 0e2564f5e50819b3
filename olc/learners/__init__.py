"""olc.learners — the learners (classes with ``init`` / ``decide`` / ``update`` for :func:`olc.play`).

Every module's ``__all__`` is re-exported here, learners only: states, results and helpers stay in
their modules (``olc.learners.oco.aoftrl_regret_bound``, ``olc.learners.meta_gradients.MetaMomentumRule``).
"""

from .._discover import export_all, is_learner

__all__ = export_all(__name__, __path__, globals(), keep=is_learner)
