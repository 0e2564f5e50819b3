"""olc.systems — see the modules of this package; every module's ``__all__`` is re-exported here."""

from .._discover import export_all

__all__ = export_all(__name__, __path__, globals())
