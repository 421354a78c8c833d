"""``Experiment``: data + arms + metrics (+ segment) -> one immutable ``ExperimentResults``.

The constructor only holds options; :meth:`Experiment.analyze` runs one aggregation query through
:func:`abtest.aggregate.sufficient_stats` (two with a segment: pooled and per segment), then the
vectorised tests of :mod:`abtest.stats` for each metric with arms on axis 0 and segments on axis 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from abtest.aggregate import resolve, sufficient_stats
from abtest.experiment.results import ExperimentResults
from abtest.experiment.summary import recommend
from abtest.metrics import Metric, resolve_metrics
from abtest.stats import bayesian, frequentist, sequential
from abtest.stats.segments import heterogeneity_test, simpson_warning

__all__ = ["Experiment"]

Method = Literal["frequentist", "bayesian", "sequential"]
Correction = Literal["holm", "bh", "bonferroni", "none"]
ALL_SEGMENTS = "all"
SRM_ALPHA = 0.001


class Experiment:
    """A split test to analyse: where the data is, which column holds the arm, what to measure.

    Parameters
    ----------
    data:
        A canonical table: user-level (one row per lead with ``user_id``, e.g. from
        :func:`abtest.aggregate.user_metrics`) or ``ad_stats`` (one row per date × ad with an arm
        column), as a pandas DataFrame, parquet/CSV path or Ibis table.
    arm, control:
        The arm column and the control arm's label (default: the first arm in sorted order).
    metrics:
        Metric names from :data:`abtest.metrics.METRICS` or :class:`~abtest.metrics.Metric`
        objects; the first one is the *primary* metric the recommendation is about.
    segment:
        Optional column (e.g. ``"segment"``: warm / cold / lapsed) for per-segment effects,
        a heterogeneity test and a Simpson warning.
    alpha, method, correction:
        Significance level; ``"frequentist"`` (z / Welch / delta method), ``"bayesian"``
        (beta-binomial or normal approximation; no p-values) or ``"sequential"`` (always-valid
        p-values, safe under daily peeking); multiple-comparison correction over the family
        arms × metrics (pooled rows) and arms × metrics × segments (segment rows).
    planned_shares:
        Planned traffic split per arm (mapping arm -> share, or a sequence in sorted-arm order);
        default equal. Used by the sample-ratio-mismatch check, flagged at p < 0.001.
    unit:
        ``"user"``, ``"day"`` (ad-level daily rows clustered by day) or ``"auto"``.
    days:
        Days the test has run (for "keep testing about N more days"). Default: distinct dates
        for ad-level data, the span of ``entry_time`` for user-level data when present.
    """

    def __init__(
        self,
        data: Any,
        arm: str = "arm",
        control: str | None = None,
        metrics: str | Metric | Iterable[str | Metric] = ("conversion_rate",),
        segment: str | None = None,
        *,
        alpha: float = 0.05,
        method: Method = "frequentist",
        correction: Correction = "holm",
        planned_shares: dict[str, float] | Sequence[float] | None = None,
        unit: Literal["user", "day", "auto"] = "auto",
        days: float | None = None,
        power: float = 0.8,
        tuning: float = 5000.0,
        date: str = "date",
        backend: Any = None,
    ) -> None:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
        if method not in ("frequentist", "bayesian", "sequential"):
            raise ValueError(f"method must be frequentist, bayesian or sequential, got {method!r}")
        if correction not in ("holm", "bh", "bonferroni", "none"):
            raise ValueError(f"correction must be holm, bh, bonferroni or none, got {correction!r}")
        if days is not None and not days > 0:
            raise ValueError(f"days must be positive, got {days}")
        self.data = data
        self.arm = arm
        self.control = control
        self.metrics = resolve_metrics(metrics)
        self.segment = segment
        self.alpha = float(alpha)
        self.method = method
        self.correction = correction
        self.planned_shares = planned_shares
        self.unit = unit
        self.days = days
        self.power = float(power)
        self.tuning = float(tuning)
        self.date = date
        self.backend = backend

    def __repr__(self) -> str:
        names = ", ".join(m.name for m in self.metrics)
        return (f"Experiment(arm={self.arm!r}, control={self.control!r}, metrics=[{names}], "
                f"segment={self.segment!r}, method={self.method!r})")

    # ------------------------------------------------------------------------------------------
    def analyze(self) -> ExperimentResults:
        """Aggregate the data and run every test; returns an immutable :class:`ExperimentResults`."""
        kw = dict(metrics=self.metrics, arm=self.arm, unit=self.unit, date=self.date,
                  backend=self.backend)
        pooled = sufficient_stats(self.data, **kw)
        unit = str(pooled["unit"].iloc[0])
        pooled = pooled.assign(segment=ALL_SEGMENTS)
        frames = [pooled]
        if self.segment:
            seg = sufficient_stats(self.data, segment=self.segment, **kw)
            frames.append(seg)
        stats = pd.concat(frames, ignore_index=True)
        stats["segment"] = stats["segment"].astype("string")
        stats["arm"] = stats["arm"].astype("string")
        arms = self._arm_order(pooled)
        segments = [ALL_SEGMENTS] + sorted(set(stats["segment"]) - {ALL_SEGMENTS})

        notes: list[str] = []
        rows = [self._analyze_metric(stats, m, unit, arms, segments, notes) for m in self.metrics]
        table = pd.concat(rows, ignore_index=True)
        table = self._adjust(table)
        srm = self._srm(pooled, arms, unit, notes)
        seg_tests = self._segment_tests(table) if self.segment else None
        days = self._days_run(pooled, arms, unit)
        options = {
            "arm": self.arm, "control": arms[0], "arms": arms,
            "metrics": [m.name for m in self.metrics], "segment": self.segment,
            "alpha": self.alpha, "method": self.method, "correction": self.correction,
            "unit": unit, "days": days, "power": self.power, "tuning": self.tuning,
        }
        rec = recommend(table, options=options, srm=srm, segment_tests=seg_tests,
                        metrics=self.metrics)
        return ExperimentResults(
            table=table, srm=srm, segment_tests=seg_tests, options=options,
            notes=tuple(notes), recommendation=rec.recommendation, summary_text=rec.text,
        )

    # ------------------------------------------------------------------------------------------
    def _arm_order(self, pooled: pd.DataFrame) -> list[str]:
        arms = sorted(set(pooled["arm"].astype(str)))
        if len(arms) < 2:
            raise ValueError(
                f"column {self.arm!r} has only one arm ({', '.join(arms) or 'none'}); "
                "a split test needs a control and at least one other arm"
            )
        control = arms[0] if self.control is None else str(self.control)
        if control not in arms:
            raise ValueError(f"control arm {control!r} is not in column {self.arm!r} "
                             f"(arms found: {', '.join(arms)})")
        return [control] + [a for a in arms if a != control]

    def _analyze_metric(self, stats: pd.DataFrame, m: Metric, unit: str, arms: list[str],
                        segments: list[str], notes: list[str]) -> pd.DataFrame:
        """Tests for one metric: arms on axis 0, segments (pooled first) on axis 1."""
        sub = stats[stats["metric"] == m.name].set_index(["arm", "segment"])
        full = pd.MultiIndex.from_product([arms, segments], names=["arm", "segment"])
        sub = sub.reindex(full)
        cols = ("n", "num_sum", "num_sum_sq", "den_sum", "den_sum_sq", "cross_sum")
        a = {c: sub[c].astype("Float64").fillna(0.0).to_numpy(dtype=float).reshape(
            len(arms), len(segments)) for c in cols}
        empty = a["n"] <= 0
        if empty[:, 0].any():
            who = ", ".join(arms[i] for i in np.flatnonzero(empty[:, 0]))
            raise ValueError(f"metric {m.name!r}: arm(s) {who} have no data (zero traffic); "
                             "drop them or wait for traffic")
        keep = ~empty.any(axis=0)
        if not keep.all():
            dropped = [segments[j] for j in np.flatnonzero(~keep)]
            notes.append(f"{m.name}: segment(s) {', '.join(dropped)} left out (an arm has no "
                         "units there)")
        segs = [s for s, k in zip(segments, keep, strict=True) if k]
        a = {c: v[:, keep] for c, v in a.items()}
        analysis = m.analysis(unit)  # type: ignore[arg-type]
        freq = self._frequentist(a, analysis)
        if self.method == "bayesian":
            res = self._bayesian(a, analysis)
            if "effect" in res.columns:  # normal approximation: effect is the relative lift
                res = res.rename(columns={"effect": "rel_lift", "cred_low": "rel_cred_low",
                                          "cred_high": "rel_cred_high"})
            res = res[["rel_lift", "rel_cred_low", "rel_cred_high", "prob_beat_control",
                       "expected_loss", "expected_loss_control"]]
        elif self.method == "sequential":
            res = self._sequential(a, analysis)
        else:
            res = freq
        return self._tidy(res, freq, a, m, unit, analysis, arms, segs)

    def _frequentist(self, a: dict[str, np.ndarray], analysis: str) -> pd.DataFrame:
        if analysis == "proportion":
            return frequentist.proportion_test(a["num_sum"], a["n"], alpha=self.alpha)
        if analysis == "mean":
            return frequentist.mean_test(a["n"], a["num_sum"], a["num_sum_sq"], alpha=self.alpha)
        return frequentist.ratio_test(a["n"], a["num_sum"], a["num_sum_sq"], a["den_sum"],
                                      a["den_sum_sq"], a["cross_sum"], alpha=self.alpha)

    def _bayesian(self, a: dict[str, np.ndarray], analysis: str) -> pd.DataFrame:
        level = 1 - self.alpha
        if analysis == "proportion":
            return bayesian.bayes_proportion(a["num_sum"], a["n"], ci_level=level)
        if analysis == "mean":
            return bayesian.bayes_mean(a["n"], a["num_sum"], a["num_sum_sq"], ci_level=level)
        return bayesian.bayes_ratio(a["n"], a["num_sum"], a["num_sum_sq"], a["den_sum"],
                                    a["den_sum_sq"], a["cross_sum"], ci_level=level)

    def _sequential(self, a: dict[str, np.ndarray], analysis: str) -> pd.DataFrame:
        if analysis == "proportion":
            return sequential.sequential_proportion_test(a["num_sum"], a["n"], alpha=self.alpha,
                                                         tuning=self.tuning)
        # each arm's mean and the squared SE of that mean (Welch / delta method), as in `freq`
        means = a["num_sum"] / a["den_sum"]
        return sequential.sequential_test(means, self._arm_mean_var(a, analysis), a["n"],
                                          alpha=self.alpha, tuning=self.tuning)

    @staticmethod
    def _arm_mean_var(a: dict[str, np.ndarray], analysis: str) -> np.ndarray:
        """Squared standard error of each arm's mean (Welch) or ratio (delta method)."""
        n = a["n"]
        dof = np.maximum(n - 1.0, 1.0)
        var_x = np.maximum(a["num_sum_sq"] - a["num_sum"] ** 2 / n, 0.0) / dof
        if analysis == "mean":
            return var_x / n
        var_y = np.maximum(a["den_sum_sq"] - a["den_sum"] ** 2 / n, 0.0) / dof
        cov = (a["cross_sum"] - a["num_sum"] * a["den_sum"] / n) / dof
        r = a["num_sum"] / a["den_sum"]
        ybar = a["den_sum"] / n
        return np.maximum(var_x - 2 * r * cov + r * r * var_y, 0.0) / (ybar * ybar) / n

    def _tidy(self, res: pd.DataFrame, freq: pd.DataFrame, a: dict[str, np.ndarray], m: Metric,
              unit: str, analysis: str, arms: list[str], segs: list[str]) -> pd.DataFrame:
        """One row per segment × arm (control rows included) for one metric."""
        k, s = len(arms), len(segs)
        n = a["n"]
        value = a["num_sum"] / a["den_sum"]
        base = pd.DataFrame({
            "metric": m.name, "metric_label": m.label, "segment": np.repeat(segs, k),
            "arm": np.tile(arms, s), "is_control": np.tile([True] + [False] * (k - 1), s),
            "unit": unit, "analysis": analysis,
            "higher_is_better": m.higher_is_better,
            "n": n.T.ravel(), "value": value.T.ravel(),
        })
        # treatment rows of the stats tables are ordered comparison (segment) then arm
        idx = np.flatnonzero(~base["is_control"].to_numpy())
        res = res.reset_index(drop=True)
        keep_cols = [c for c in res.columns
                     if c not in ("comparison", "arm", "method", "alternative", "alpha",
                                  "ci_level", "control_n", "treatment_n", "control_mean",
                                  "treatment_mean", "prior_alpha", "prior_beta", "n_total",
                                  "statistic", "dof")]
        for c in keep_cols:
            numeric = pd.api.types.is_numeric_dtype(res[c]) and not pd.api.types.is_bool_dtype(
                res[c])
            col = pd.Series(pd.NA, index=base.index, dtype="Float64" if numeric else "string")
            col.iloc[idx] = res[c].to_numpy() if numeric else res[c].astype(str).to_numpy()
            base[c] = col
        if self.method == "bayesian":
            # frequentist SE kept for planning and heterogeneity (documented)
            se = pd.Series(pd.NA, index=base.index, dtype="Float64")
            se.iloc[idx] = freq["std_error"].to_numpy()
            base["std_error"] = se
            ad = pd.Series(pd.NA, index=base.index, dtype="Float64")
            ad.iloc[idx] = (freq["treatment_mean"] - freq["control_mean"]).to_numpy()
            base["abs_diff"] = ad
        base["method"] = self.method
        return base

    def _adjust(self, table: pd.DataFrame) -> pd.DataFrame:
        """Multiple-comparison correction, pooled family and segment family separately."""
        table = table.copy()
        if self.method == "bayesian":
            table["family"] = pd.array(["none (Bayesian: no p-values)"] * len(table),
                                       dtype="string")
            return table
        from abtest.stats.checks import adjust_pvalues

        table["p_adjusted"] = pd.Series(pd.NA, index=table.index, dtype="Float64")
        table["family"] = pd.Series(pd.NA, index=table.index, dtype="string")
        treated = ~table["is_control"]
        for pooled, label in ((True, "arms × metrics"), (False, "arms × metrics × segments")):
            mask = treated & ((table["segment"] == ALL_SEGMENTS) == pooled)
            if not mask.any():
                continue
            p = table.loc[mask, "p_value"].to_numpy(dtype=float)
            if self.correction == "none":
                adj = p
            else:
                adj = np.asarray(adjust_pvalues(p, method=self.correction), dtype=float)
            table.loc[mask, "p_adjusted"] = adj
            size = int(mask.sum())
            table.loc[mask, "family"] = f"{label} ({size} tests, {self.correction})"
        table.loc[~treated, "family"] = "control"
        return table

    def _srm(self, pooled: pd.DataFrame, arms: list[str], unit: str,
             notes: list[str]) -> dict[str, Any]:
        if unit != "user":
            notes.append("sample-ratio check skipped: ad-level daily data has no unit counts "
                         "(every arm has the same days); run it on user-level data")
            return {"checked": False, "p_value": None, "flag": False, "counts": {},
                    "expected_shares": {}}
        from abtest.stats.checks import srm_test

        counts = pooled.groupby("arm")["n"].max().reindex(arms).to_numpy(dtype=float)
        shares = self._shares(arms)
        p = float(srm_test(counts, shares))
        return {"checked": True, "p_value": p, "flag": bool(p < SRM_ALPHA),
                "counts": dict(zip(arms, counts.tolist(), strict=True)),
                "expected_shares": dict(zip(arms, shares.tolist(), strict=True))}

    def _shares(self, arms: list[str]) -> np.ndarray:
        ps = self.planned_shares
        if ps is None:
            return np.full(len(arms), 1.0 / len(arms))
        if isinstance(ps, dict):
            missing = [a for a in arms if a not in ps]
            if missing:
                raise ValueError(f"planned_shares has no share for arm(s) {', '.join(missing)}")
            out = np.array([float(ps[a]) for a in arms])
        else:
            vals = [float(v) for v in ps]
            if len(vals) != len(arms):
                raise ValueError(f"planned_shares needs {len(arms)} values (sorted arms), "
                                 f"got {len(vals)}")
            by_name = dict(zip(sorted(arms), vals, strict=True))
            out = np.array([by_name[a] for a in arms])
        if np.any(~np.isfinite(out)) or np.any(out <= 0):
            raise ValueError("planned_shares must be positive numbers")
        return out / out.sum()

    def _segment_tests(self, table: pd.DataFrame) -> pd.DataFrame:
        """Heterogeneity (Cochran's Q) and Simpson warning per metric × treatment arm."""
        out = []
        treated = table[~table["is_control"]]
        for (metric, arm), g in treated.groupby(["metric", "arm"], sort=False):
            pooled = g[g["segment"] == ALL_SEGMENTS]
            segs = g[g["segment"] != ALL_SEGMENTS]
            rec: dict[str, Any] = {"metric": metric, "arm": arm, "segments": len(segs)}
            est = segs["abs_diff"].to_numpy(dtype=float)
            se = segs["std_error"].to_numpy(dtype=float)
            if len(segs) >= 2 and np.all(se > 0):
                h = heterogeneity_test(est, se).iloc[0]
                rec.update(q=float(h.q), df=int(h.df), p_value=float(h.p_value),
                           i_squared=float(h.i_squared), tested=True)
                rec["simpson"] = bool(simpson_warning(float(pooled["abs_diff"].iloc[0]), est))
            else:
                rec.update(q=0.0, df=0, p_value=1.0, i_squared=0.0, tested=False, simpson=False)
            out.append(rec)
        return pd.DataFrame(out)

    def _days_run(self, pooled: pd.DataFrame, arms: list[str], unit: str) -> float | None:
        if self.days is not None:
            return float(self.days)
        if unit == "day":
            return float(pooled["n"].max())
        try:
            table = resolve(self.data, backend=self.backend)
            if "entry_time" not in table.columns:
                return None
            span = table.aggregate(lo=table["entry_time"].min(),
                                   hi=table["entry_time"].max()).execute()
            lo, hi = pd.Timestamp(span["lo"].iloc[0]), pd.Timestamp(span["hi"].iloc[0])
            if pd.isna(lo) or pd.isna(hi):
                return None
            return max((hi - lo).total_seconds() / 86400.0, 1.0)
        except Exception:  # duration is a nicety: never fail the analysis over it
            return None
