"""What a reader sees: one number / interval / money formatter, escaping, HTML tables, the plots.

``display.format`` (formatting and escaping) and ``display.tables`` are light; ``display.plots``
imports matplotlib and seaborn, so it is only loaded when asked for.
"""

from abtest.display import format as _format
from abtest.display import tables as _tables
from abtest.display.format import *  # noqa: F403  (the names listed in format.__all__)
from abtest.display.tables import *  # noqa: F403

__all__ = [*_format.__all__, *_tables.__all__]
