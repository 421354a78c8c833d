"""How many CPUs this process may use: the one count the simulator (and its callers) read."""

from __future__ import annotations

import os

__all__ = ["available_cpus"]


def available_cpus() -> int:
    """CPUs this process may run on, at least 1.

    The affinity mask (``os.sched_getaffinity``: respects ``taskset`` and cgroup cpusets, so a
    container limited to 2 cores says 2), else ``os.cpu_count()`` on platforms without affinity
    masks (macOS, Windows).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
