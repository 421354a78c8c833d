"""abtest: experimentation workbench for TikTok retargeting split tests.

Loaders for real TikTok exports (``abtest.io``), significance tests done right (``abtest.stats``),
the analyst's entry point (``abtest.Experiment``), a timing-window simulator (``abtest.sim``) and
parameterised notebook reports (``abtest.report``). See docs/architecture.md for the data flow.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("abtest")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from abtest.experiment import Experiment, ExperimentResults
    from abtest.experiment.incrementality import incrementality

__all__ = ["Experiment", "ExperimentResults", "__version__", "incrementality"]


def __getattr__(name: str) -> Any:
    # Lazy: `import abtest` stays light (the CLI and loaders do not pay for statsmodels/ibis).
    if name in {"Experiment", "ExperimentResults"}:
        from abtest import experiment

        return getattr(experiment, name)
    if name == "incrementality":
        from abtest.experiment.incrementality import incrementality

        return incrementality
    raise AttributeError(f"module 'abtest' has no attribute {name!r}")
