"""Per-segment effects: heterogeneity across segments and Simpson's-paradox warnings.

A marketer splits a retargeting test by lead segment (warm / cold / lapsed) to ask "does the
winner win everywhere?". Cochran's Q answers whether the segment effects differ more than chance
allows (DerSimonian & Laird 1986; Higgins & Thompson 2002 for I²); with two segments Q equals the
square of the interaction z, (e₁ − e₂)/sqrt(se₁² + se₂²). A Simpson warning fires when the pooled
effect points one way and every segment the other — usually a sign that arms got different
segment mixes (check the assignment), so read the segments, not the pooled number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from abtest.stats._arrays import as_float

__all__ = ["heterogeneity_test", "simpson_warning"]


def heterogeneity_test(estimates: ArrayLike, std_errors: ArrayLike) -> pd.DataFrame:
    """Cochran's Q test that the effect is the same in every segment.

    ``estimates`` and ``std_errors`` hold one effect per segment along axis 0 (further axes are
    independent comparisons, e.g. arms × metrics). Weights are 1/se² (fixed effect).

    Returns one row per comparison: ``q, df, p_value, i_squared, pooled_estimate, pooled_std_error,
    interaction_z`` (interaction_z is (e₁ − e₀)/sqrt(se₀² + se₁²) for exactly two segments and 0
    otherwise; then q = interaction_z²). I² = max(0, (Q − df)/Q), 0 when Q = 0.
    """
    e = as_float(estimates, "estimates", nonnegative=False)
    se = as_float(std_errors, "std_errors")
    e, se = np.broadcast_arrays(e, se)
    if e.ndim == 0 or e.shape[0] < 2:
        raise ValueError("need effects for at least two segments along axis 0")
    if np.any(se <= 0):
        raise ValueError(
            "std_errors: a segment has zero standard error (no traffic or no variation); "
            "drop it or merge it with another segment before testing heterogeneity"
        )
    w = 1.0 / se**2
    pooled = (w * e).sum(axis=0) / w.sum(axis=0)
    q = (w * (e - pooled) ** 2).sum(axis=0)
    df = e.shape[0] - 1
    p = stats.chi2.sf(q, df)
    i2 = np.where(q > 0, np.maximum(0.0, (q - df) / np.where(q > 0, q, 1.0)), 0.0)
    if e.shape[0] == 2:
        iz = (e[1] - e[0]) / np.sqrt(se[0] ** 2 + se[1] ** 2)
    else:
        iz = np.zeros_like(q)
    return pd.DataFrame(
        {
            "q": np.ravel(q),
            "df": np.full(np.size(q), df),
            "p_value": np.ravel(p),
            "i_squared": np.ravel(i2),
            "pooled_estimate": np.ravel(pooled),
            "pooled_std_error": np.ravel(np.sqrt(1.0 / w.sum(axis=0))),
            "interaction_z": np.ravel(iz),
        }
    )


def simpson_warning(pooled_estimate: ArrayLike, segment_estimates: ArrayLike) -> np.ndarray:
    """True where the pooled effect's sign is opposite to that of *every* segment's effect.

    ``segment_estimates`` has segments on axis 0; ``pooled_estimate`` has the remaining shape.
    Zero effects have no direction: a zero pooled effect or any zero segment never warns.
    """
    pooled = as_float(pooled_estimate, "pooled_estimate", nonnegative=False)
    seg = as_float(segment_estimates, "segment_estimates", nonnegative=False)
    if seg.ndim == 0 or seg.shape[0] < 2:
        raise ValueError("need effects for at least two segments along axis 0")
    sp, ss = np.sign(pooled), np.sign(seg)
    return (sp != 0) & np.all(ss == -sp, axis=0)
