"""Health checks on an experiment: sample-ratio mismatch and multiple comparisons.

SRM: Pearson chi-square goodness of fit of the unit counts per arm against the planned split
(df = arms - 1), flagged at p < 0.001 as GrowthBook does. Multiple comparisons: Holm,
Benjamini-Hochberg and Bonferroni adjustments, with the tested family written into the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats
from statsmodels.stats.multitest import multipletests

from abtest.stats._arrays import FloatArray, as_float, check_alpha

__all__ = [
    "SRM_THRESHOLD",
    "SRMResult",
    "adjust_frame",
    "adjust_pvalues",
    "srm_check",
    "srm_test",
]

SRM_THRESHOLD = 0.001
AdjustMethod = Literal["holm", "bh", "bonferroni"]
_METHOD_LABEL = {"holm": "Holm", "bh": "Benjamini-Hochberg", "bonferroni": "Bonferroni"}


def _srm_arrays(counts: ArrayLike, expected_shares: ArrayLike | None
                ) -> tuple[FloatArray, FloatArray, FloatArray]:
    obs = as_float(counts, "counts")
    if obs.ndim == 0 or obs.shape[0] < 2:
        raise ValueError("srm_test needs the unit counts of at least two arms (axis 0)")
    if expected_shares is None:
        shares = np.full(obs.shape[0], 1.0 / obs.shape[0])
    else:
        shares = as_float(expected_shares, "expected_shares")
    if shares.ndim == 1 and obs.ndim > 1:
        shares = shares.reshape(shares.shape + (1,) * (obs.ndim - 1))
    if np.any(shares <= 0):
        raise ValueError("expected_shares must all be > 0 (drop arms planned to get no traffic)")
    shares, obs = np.broadcast_arrays(shares, obs)
    shares = shares / np.sum(shares, axis=0, keepdims=True)
    total = np.sum(obs, axis=0)
    if np.any(total <= 0):
        raise ValueError("srm_test: no units in any arm, nothing to check")
    chi2, p = stats.chisquare(obs, shares * total, axis=0)  # Pearson's chi-square, k - 1 df
    return np.asarray(p, dtype=np.float64), np.asarray(chi2, dtype=np.float64), obs / total


def srm_test(counts: ArrayLike, expected_shares: ArrayLike | None = None) -> float | FloatArray:
    """p-value of the sample-ratio-mismatch chi-square test (arms along axis 0).

    ``expected_shares`` is the planned split (any positive weights; default equal). Returns a
    float for one experiment, an array for a batch (further axes). Computed by
    ``scipy.stats.chisquare(counts, f_exp)`` along axis 0.
    """
    p, _, _ = _srm_arrays(counts, expected_shares)
    return float(p) if np.ndim(p) == 0 else p


class SRMResult(NamedTuple):
    """Outcome of :func:`srm_check` for one experiment."""

    p_value: float
    chi2: float
    flagged: bool
    observed_shares: tuple[float, ...]
    message: str


def srm_check(
    counts: ArrayLike,
    expected_shares: ArrayLike | None = None,
    *,
    threshold: float = SRM_THRESHOLD,
) -> SRMResult:
    """SRM test of one experiment with a plain-words verdict; flagged when p < ``threshold``."""
    obs = np.asarray(counts)
    if obs.ndim != 1:
        raise ValueError("srm_check takes the counts of one experiment (1-D); use srm_test")
    p, chi2, observed = _srm_arrays(obs, expected_shares)
    p_f = float(p)
    flagged = p_f < threshold
    split = " / ".join(f"{s:.1%}" for s in observed)
    if flagged:
        msg = (f"Sample ratio mismatch: observed split {split} (p = {p_f:.2g} < {threshold:g}). "
               "Assignment or tracking is broken; do not trust the results until it is fixed.")
    else:
        msg = f"No sample ratio mismatch: observed split {split} (p = {p_f:.2g})."
    return SRMResult(p_f, float(chi2), flagged, tuple(float(s) for s in observed), msg)


def adjust_pvalues(p: ArrayLike, method: AdjustMethod = "holm") -> FloatArray:
    """Adjusted p-values over one family (all elements of ``p``; shape preserved).

    Holm (1979) step-down and Bonferroni control the family-wise error rate under any
    dependence; Benjamini-Hochberg (1995) step-up controls the false discovery rate
    (independent or positively dependent tests); computed by statsmodels ``multipletests``.
    """
    arr = np.asarray(p, dtype=np.float64)
    if arr.size == 0:
        return arr.copy()
    if np.any(~np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        raise ValueError("p-values must be finite numbers between 0 and 1")
    names = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}
    if method not in names:
        raise ValueError(f"method must be 'holm', 'bh' or 'bonferroni', got {method!r}")
    out = multipletests(arr.ravel(), method=names[method])[1]
    return out.reshape(arr.shape)


def _plural(word: str, n: int) -> str:
    if n == 1:
        return word
    return word + ("es" if word.endswith(("s", "x")) else "s")


def adjust_frame(
    results: pd.DataFrame,
    *,
    method: AdjustMethod = "holm",
    dimensions: Sequence[str] = ("arm", "metric", "segment"),
    by: Sequence[str] = (),
    p_column: str = "p_value",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Add ``p_adjusted``, ``significant_adjusted`` and ``family`` to a results table.

    All rows sharing the ``by`` columns form one family (default: the whole table). The
    ``family`` column states it, e.g. "3 arms x 4 metrics x 3 segments = 36 tests, Holm",
    counting the distinct values of each of ``dimensions`` present in the table. Returns a
    new DataFrame; the input is not modified.
    """
    check_alpha(alpha)
    if p_column not in results.columns:
        raise ValueError(f"results has no column {p_column!r}")
    out = results.copy()
    adjusted = np.empty(len(out))
    family = np.empty(len(out), dtype=object)
    groups = out.groupby(list(by), sort=False).indices if by else {None: np.arange(len(out))}
    for key, idx in groups.items():
        part = out.iloc[idx]
        adjusted[idx] = adjust_pvalues(part[p_column].to_numpy(dtype=np.float64), method)
        dims = [(c, part[c].nunique()) for c in dimensions
                if c in part.columns and c not in by]
        desc = " x ".join(f"{k} {_plural(c, k)}" for c, k in dims)
        n = len(idx)
        text = f"{desc} = {n} {_plural('test', n)}" if desc else f"{n} {_plural('test', n)}"
        if by:
            keys = key if isinstance(key, tuple) else (key,)
            text += " (" + ", ".join(f"{c} = {v}" for c, v in zip(by, keys, strict=True)) + ")"
        family[idx] = f"{text}, {_METHOD_LABEL[method]}"
    out["p_adjusted"] = adjusted
    out["significant_adjusted"] = adjusted < alpha
    out["family"] = pd.Series(family, index=out.index, dtype="str")
    return out
