"""The one assertion behind every "interval excludes 0 iff p < alpha" property test."""

from __future__ import annotations

import numpy as np

from abtest.stats.frequentist import interval_excludes


def assert_intervals_agree_with_p(res, alpha: float) -> None:
    """Absolute and relative (Fieller, complement-aware) sets exclude 0 exactly when p < alpha,
    and no field of the result is NaN. Results within 1e-9 of alpha are floating ties: skipped."""
    p = res.p_value
    clear = np.abs(p - alpha) > 1e-9 * alpha
    sig = p < alpha
    abs_ex = interval_excludes(res.abs_ci_low, res.abs_ci_high)
    rel_ex = interval_excludes(res.rel_ci_low, res.rel_ci_high, res.rel_ci_complement)
    assert np.array_equal(abs_ex[clear], sig[clear])
    assert np.array_equal(rel_ex[clear], sig[clear])
    for arr in res:
        assert not np.any(np.isnan(np.asarray(arr, dtype=float)))
