"""Re-export of :mod:`abtest.errors` (the errors' home since the layout redesign, issue #9).

``from abtest.io.errors import DataError`` keeps working; new code imports ``abtest.errors``.
"""

from abtest.errors import DataError, ReadReport, SetAside

__all__ = ["DataError", "ReadReport", "SetAside"]
