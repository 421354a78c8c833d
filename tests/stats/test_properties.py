"""Property: every interval (absolute and relative) excludes 0 iff p < alpha."""

from __future__ import annotations

import numpy as np
from agreement import assert_intervals_agree_with_p
from hypothesis import given, settings
from hypothesis import strategies as st

from abtest.stats import proportion_test_arrays, ratio_test_arrays

ALTS = st.sampled_from(["two-sided", "greater", "less"])
ALPHAS = st.sampled_from([0.01, 0.05, 0.1, 0.2])


@st.composite
def proportions(draw):
    k = draw(st.integers(2, 4))
    n = draw(st.lists(st.integers(1, 1_000_000), min_size=k, max_size=k))
    x = [draw(st.integers(0, ni)) for ni in n]
    return np.array(x), np.array(n)


@settings(max_examples=300, deadline=None)
@given(proportions(), ALTS, ALPHAS)
def test_proportion_intervals_agree_with_p(data, alternative, alpha) -> None:
    x, n = data
    assert_intervals_agree_with_p(proportion_test_arrays(x, n, alpha=alpha, alternative=alternative), alpha)


@st.composite
def ratio_stats(draw):
    k = draw(st.integers(2, 3))
    cols = []
    for _ in range(k):
        users = draw(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 60)),
                              min_size=2, max_size=40))
        num = np.array([min(c, i) for c, i in users], dtype=float)
        den = np.array([i for _, i in users], dtype=float)
        cols.append([len(users), num.sum(), (num**2).sum(), den.sum(), (den**2).sum(),
                     (num * den).sum()])
    return np.array(cols).T


@settings(max_examples=300, deadline=None)
@given(ratio_stats(), ALTS, ALPHAS)
def test_ratio_intervals_agree_with_p(sums, alternative, alpha) -> None:
    assert_intervals_agree_with_p(ratio_test_arrays(*sums, alpha=alpha, alternative=alternative), alpha)
