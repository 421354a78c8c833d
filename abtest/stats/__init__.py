"""Pure, vectorised statistics over arrays of sufficient statistics.

Arms run along axis 0 (control = index 0); any further axes are independent comparisons.
No I/O, no plotting, nothing else from abtest.

>>> import numpy as np
>>> res = proportion_test_arrays(np.array([40, 60]), np.array([1000, 1000]))  # control first
>>> round(float(res.abs_diff[0]), 4), round(float(res.p_value[0]), 4)
(0.02, 0.04)
>>> round(srm_test(np.array([5000, 5210]), np.array([0.5, 0.5])), 4)  # planned 50/50 split
0.0377
>>> int(sample_size(0.05, 0.10, relative=True))  # users per arm for +10% on a 5% rate
31231
>>> adjust_pvalues([0.01, 0.04, 0.03], method="holm").round(3).tolist()
[0.03, 0.06, 0.06]
"""

from abtest.stats.bayesian import (
    BetaSummary,
    NormalSummary,
    bayes_mean,
    bayes_normal,
    bayes_normal_arrays,
    bayes_proportion,
    bayes_ratio,
    beta_binomial_arrays,
    beta_prob_greater,
)
from abtest.stats.checks import (
    SRM_THRESHOLD,
    SRMResult,
    adjust_frame,
    adjust_pvalues,
    srm_check,
    srm_test,
)
from abtest.stats.cuped import CupedResult, cuped_arrays, cuped_test
from abtest.stats.daily import PairedResult, paired_ratio_arrays
from abtest.stats.exact import choose_exact_method, exact_test
from abtest.stats.fieller import fieller_interval_cov
from abtest.stats.frequentist import (
    ComparisonResult,
    difference_test,
    fieller_interval,
    interval_excludes,
    mean_test,
    mean_test_arrays,
    proportion_test,
    proportion_test_arrays,
    ratio_test,
    ratio_test_arrays,
    result_frame,
)
from abtest.stats.heterogeneity import heterogeneity_test, simpson_warning
from abtest.stats.planning import (
    SimulatedPower,
    days_to_detect,
    minimum_detectable_effect,
    power,
    power_by_simulation,
    sample_size,
    test_duration_days,
    unit_variance_from_sums,
)
from abtest.stats.sequential import (
    alpha_spending,
    always_valid_arrays,
    always_valid_frame,
    always_valid_interval,
    always_valid_p_value,
    group_sequential_bounds,
    sequential_decision,
    sequential_proportion_test,
    sequential_test,
)
from abtest.stats.trend import (
    TrendResult,
    conversion_by_frequency,
    ctr_by_creative_age,
    rate_trend,
)

__all__ = [
    "SRM_THRESHOLD",
    "BetaSummary",
    "ComparisonResult",
    "NormalSummary",
    "SRMResult",
    "SimulatedPower",
    "adjust_frame",
    "adjust_pvalues",
    "bayes_mean",
    "bayes_normal",
    "bayes_normal_arrays",
    "bayes_proportion",
    "bayes_ratio",
    "beta_binomial_arrays",
    "beta_prob_greater",
    "choose_exact_method",
    "difference_test",
    "exact_test",
    "fieller_interval",
    "interval_excludes",
    "mean_test",
    "mean_test_arrays",
    "minimum_detectable_effect",
    "power",
    "power_by_simulation",
    "proportion_test",
    "proportion_test_arrays",
    "ratio_test",
    "ratio_test_arrays",
    "result_frame",
    "sample_size",
    "srm_check",
    "srm_test",
    "test_duration_days",
    "unit_variance_from_sums",
]
__all__ += [
    "CupedResult",
    "TrendResult",
    "alpha_spending",
    "always_valid_arrays",
    "always_valid_frame",
    "always_valid_interval",
    "always_valid_p_value",
    "conversion_by_frequency",
    "ctr_by_creative_age",
    "cuped_arrays",
    "cuped_test",
    "group_sequential_bounds",
    "heterogeneity_test",
    "rate_trend",
    "sequential_decision",
    "sequential_proportion_test",
    "sequential_test",
    "simpson_warning",
]
__all__ += ["PairedResult", "days_to_detect", "fieller_interval_cov", "paired_ratio_arrays"]
