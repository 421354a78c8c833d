"""The synthetic generator: deterministic, sized as asked, and its known effects are recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from abtest.aggregate import sufficient_stats, user_metrics
from abtest.aggregate.synthetic import SyntheticSpec, generate
from abtest.schema import ASSIGNMENTS, EVENTS


def test_deterministic_and_canonical(tmp_path):
    a = generate(tmp_path / "a", n_events=20_000, seed=5, users_per_chunk=700)
    b = generate(tmp_path / "b", n_events=20_000, seed=5, users_per_chunk=700)
    assert pq.read_table(a.events_path).equals(pq.read_table(b.events_path))
    assert abs(a.n_events - 20_000) < 20_000 * 0.05
    ev = pd.read_parquet(a.events_path)
    asg = pd.read_parquet(a.assignments_path)
    assert set(EVENTS.required) <= set(ev.columns)
    assert set(ASSIGNMENTS.names) <= set(asg.columns)
    assert ev["user_id"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert asg["user_id"].is_unique and ev["event_id"].is_unique
    assert str(ev["timestamp"].dtype) == "datetime64[us, UTC]"  # Spark reads us, not ns
    assert set(ev["event"].astype(str)) == {"Impression", "AdClick", "Purchase"}
    c = generate(tmp_path / "c", n_events=20_000, seed=6, users_per_chunk=700)
    assert not pq.read_table(a.events_path).equals(pq.read_table(c.events_path))


@pytest.mark.slow
def test_known_effects_are_recovered(tmp_path):
    spec = SyntheticSpec(lift=(1.0, 1.3), ctr=(0.02, 0.03))
    data = generate(tmp_path, n_events=600_000, seed=2, spec=spec)
    table = user_metrics(data.events_path, data.assignments_path, horizon_days=7)
    metrics = ["conversion_rate", "revenue_per_lead", "ctr"]
    got = sufficient_stats(table, metrics=metrics, segment="segment")
    truth = data.truth(7).melt(id_vars=["arm", "segment"], var_name="metric", value_name="truth")
    merged = got.merge(truth, on=["arm", "segment", "metric"])
    assert len(merged) == len(got) == 18
    n, sx, sxx = merged["n"], merged["num_sum"], merged["num_sum_sq"]
    sy, syy, sxy = merged["den_sum"], merged["den_sum_sq"], merged["cross_sum"]
    est = sx / sy
    # delta-method standard error of a ratio of means (exact for den = 1)
    mx, my = sx / n, sy / n
    vx, vy, cxy = sxx / n - mx**2, syy / n - my**2, sxy / n - mx * my
    se = np.sqrt((vx - 2 * est * cxy + est**2 * vy) / (n * my**2))
    z = (est - merged["truth"]) / se
    assert np.all(np.abs(z) < 4.5), merged.assign(z=z)
