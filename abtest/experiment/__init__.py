"""The analyst's entry point: ``Experiment(data, ...).analyze()`` -> ``ExperimentResults``."""

from abtest.experiment.experiment import Experiment
from abtest.experiment.results import ExperimentResults

__all__ = ["Experiment", "ExperimentResults"]
