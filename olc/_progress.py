"""Progress bars for olc's long loops (tqdm, imported lazily).

``progress=None`` (the default of :func:`olc.play`, :func:`olc.learners.optimizers.train`, :func:`olc.meta.meta_train`)
shows a bar only when the loop is still running after :data:`AUTO_DELAY` seconds (tqdm's ``delay``), so quick calls stay
silent and a call that runs for minutes says how far it is; ``True`` always shows one, ``False`` never does.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidArgumentError

__all__ = ["AUTO_DELAY", "progress_bar"]

#: seconds a loop runs before an automatic (``progress=None``) bar appears
AUTO_DELAY = 3.0


def progress_bar(iterable, progress=None, desc: str | None = None, total: int | None = None):
    """``iterable`` wrapped in a tqdm bar according to ``progress``.

    Parameters
    ----------
    iterable : iterable
    progress : bool or None
        True / False / None = automatic.
    desc : str, optional
    total : int, optional
    """
    if progress is None or isinstance(progress, (bool, np.bool_)):
        if progress is not None and not progress:
            return iterable
    else:
        raise InvalidArgumentError(f"progress: expected True, False or None (automatic), got {progress!r}")
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, delay=0.0 if progress else AUTO_DELAY)
