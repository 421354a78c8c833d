"""SRM and multiple-comparison checks against scipy/statsmodels and peers.md 4.5."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from abtest.stats import adjust_frame, adjust_pvalues, srm_check, srm_test


def test_srm_reference_vector() -> None:
    """peers.md 4.5: 10,000 vs 10,300 at 50/50 -> p = 0.0352402."""
    assert round(srm_test([10_000, 10_300], [0.5, 0.5]), 7) == 0.0352402
    res = srm_check([10_000, 10_300], [0.5, 0.5])
    assert not res.flagged and "No sample ratio mismatch" in res.message


def test_srm_batch_matches_scipy_chisquare() -> None:
    rng = np.random.default_rng(2)
    counts = rng.integers(500, 5000, size=(3, 20))
    shares = np.array([0.5, 0.25, 0.25])
    p = srm_test(counts, shares)
    for j in range(20):
        exp = shares * counts[:, j].sum()
        assert p[j] == pytest.approx(stats.chisquare(counts[:, j], exp).pvalue, rel=1e-10)


def test_srm_flags_below_threshold() -> None:
    res = srm_check([10_000, 10_600])
    assert res.flagged and res.p_value < 0.001
    assert "Sample ratio mismatch" in res.message
    with pytest.raises(ValueError, match="> 0"):
        srm_test([10, 10], [0.5, 0.0])
    with pytest.raises(ValueError, match="at least two arms"):
        srm_test([10])
    with pytest.raises(ValueError, match="no units"):
        srm_test([0, 0])


@pytest.mark.parametrize(("ours", "theirs"),
                         [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")])
def test_adjust_matches_statsmodels(ours, theirs) -> None:
    rng = np.random.default_rng(4)
    p = np.concatenate([rng.uniform(0, 1, 30), rng.uniform(0, 0.01, 10), [0.02, 0.02]])
    ref = multipletests(p, method=theirs)[1]
    np.testing.assert_allclose(adjust_pvalues(p, ours), ref, rtol=1e-12)
    np.testing.assert_allclose(adjust_pvalues(p.reshape(6, 7), ours), ref.reshape(6, 7),
                               rtol=1e-12)


def test_adjust_rejects_bad_p() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        adjust_pvalues([0.1, np.nan])
    with pytest.raises(ValueError, match="method"):
        adjust_pvalues([0.1], "sidak")  # type: ignore[arg-type]


def test_adjust_frame_states_family() -> None:
    rows = [(a, m, s) for a in (1, 2, 3) for m in ("ctr", "cvr", "cpa", "roas")
            for s in ("warm", "cold", "lapsed")]
    df = pd.DataFrame(rows, columns=["arm", "metric", "segment"])
    df["p_value"] = np.linspace(0.0001, 0.5, len(df))
    out = adjust_frame(df, method="holm")
    assert out["family"].unique().tolist() == [
        "3 arms x 4 metrics x 3 segments = 36 tests, Holm"]
    np.testing.assert_allclose(out["p_adjusted"], multipletests(df["p_value"], method="holm")[1])
    assert "p_adjusted" not in df.columns  # input untouched
    per_metric = adjust_frame(df, method="bh", by=["metric"])
    assert per_metric.loc[df.metric == "cvr", "family"].unique().tolist() == [
        "3 arms x 3 segments = 9 tests (metric = cvr), Benjamini-Hochberg"]
    cvr = df[df.metric == "cvr"]
    np.testing.assert_allclose(per_metric.loc[cvr.index, "p_adjusted"],
                               multipletests(cvr["p_value"], method="fdr_bh")[1])
