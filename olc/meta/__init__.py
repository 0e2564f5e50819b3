"""olc.meta — meta-gradient estimators and meta-training (not protocol learners).

MAML, FO-MAML, Reptile, iMAML, FO-B-MAML (:mod:`olc.meta.maml`) map ``(task, θ)`` to an estimate of
the task's meta-gradient; MetaMD (:mod:`olc.meta.metamd`) meta-trains a mirror map. Their outer loops
(:func:`meta_train`, :meth:`MetaMD.meta_train`) are :func:`olc.play` of an olc learner (the outer
optimizer, any learner of :mod:`olc.learners`). Every module's ``__all__`` is re-exported here.
"""

from .._discover import export_all

__all__ = export_all(__name__, __path__, globals())
