"""``Experiment``: data + arms + metrics (+ segment) -> one immutable ``ExperimentResults``.

The constructor only holds options; :meth:`Experiment.analyze` runs one aggregation query through
:func:`abtest.aggregate.sufficient_stats` (two with a segment: pooled and per segment), then the
vectorised tests of :mod:`abtest.stats` for each metric with arms on axis 0 and segments on axis 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from abtest.aggregate import STAT_COLUMNS, resolve, sufficient_stats
from abtest.experiment.options import AnalysisOptions, Correction, Method
from abtest.experiment.results import ExperimentResults
from abtest.experiment.summary import recommend
from abtest.metrics import Metric, resolve_metrics
from abtest.stats import bayesian, frequentist, sequential
from abtest.stats.checks import SRM_THRESHOLD, adjust_pvalues, srm_test
from abtest.stats.cuped import cuped_arrays
from abtest.stats.frequentist import ComparisonResult, interval_excludes
from abtest.stats.heterogeneity import heterogeneity_test, simpson_warning

__all__ = ["Experiment"]

ALL_SEGMENTS = "all"
SRM_ALPHA = SRM_THRESHOLD
_CUPED_SUFFIX = "__cuped"


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
    covariate:
        Pre-period covariate for CUPED (user-level data only): a column name used for every
        proportion and mean metric (e.g. ``"pre_converted"`` or ``"pre_revenue"`` from
        :func:`abtest.aggregate.user_metrics` with ``pre_period_days``), or a mapping
        ``{metric name: column}``. Those rows are tested with :func:`abtest.stats.cuped_arrays`
        (the Σx, Σx², Σxy come from the same aggregation query: the metric's numerator over the
        covariate is a ratio metric whose six sufficient statistics are exactly n, Σy, Σy², Σx,
        Σx², Σxy); the table gets ``cuped`` (True on adjusted rows), ``cuped_theta`` and
        ``variance_reduction`` (0 on rows that were not adjusted). Ratio metrics are not
        adjusted. With ``method="bayesian"`` proportions keep the exact beta-binomial posterior
        (no CUPED) and means use the normal approximation on the CUPED estimate. Users whose
        covariate is missing are left out of the adjusted metric (a note says how many).
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
        covariate: str | Mapping[str, str] | None = None,
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
        self._covariate_given = covariate is not None
        self.covariate = self._check_covariate(covariate)

    def _check_covariate(self, covariate: str | Mapping[str, str] | None) -> dict[str, str]:
        """Metric name -> covariate column for the proportion / mean metrics to adjust."""
        if covariate is None:
            return {}
        per_unit = [m.name for m in self.metrics if m.kind in ("proportion", "mean")]
        if isinstance(covariate, str):
            if not covariate:
                raise ValueError("covariate must be a column name")
            return dict.fromkeys(per_unit, covariate)
        out = {str(k): str(v) for k, v in dict(covariate).items()}
        names = {m.name: m for m in self.metrics}
        for k in out:
            if k not in names:
                raise ValueError(f"covariate names metric {k!r}, which is not among the metrics "
                                 f"({', '.join(names)})")
            if names[k].kind == "ratio":
                raise ValueError(f"covariate for {k!r}: CUPED applies to per-lead proportion and "
                                 "mean metrics, not to ratio metrics")
        return out

    def _cuped_metric(self, m: Metric) -> Metric:
        """The metric's numerator over its covariate: its sufficient stats are CUPED's inputs."""
        return Metric(m.name + _CUPED_SUFFIX, m.label, m.numerator_terms,
                      self.covariate[m.name], "ratio", m.higher_is_better)

    def __repr__(self) -> str:
        names = ", ".join(m.name for m in self.metrics)
        return (f"Experiment(arm={self.arm!r}, control={self.control!r}, metrics=[{names}], "
                f"segment={self.segment!r}, method={self.method!r})")

    # ------------------------------------------------------------------------------------------
    def analyze(self) -> ExperimentResults:
        """Aggregate the data and run every test; returns an immutable :class:`ExperimentResults`."""
        cuped = [self._cuped_metric(m) for m in self.metrics if m.name in self.covariate]
        kw = dict(metrics=[*self.metrics, *cuped], arm=self.arm, unit=self.unit, date=self.date,
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
        if self._covariate_given and not self.covariate:
            notes.append("covariate ignored: CUPED adjusts per-lead proportion and mean metrics, "
                         "and none was requested")
        rows = [self._analyze_metric(stats, m, unit, arms, segments, notes) for m in self.metrics]
        table = pd.concat(rows, ignore_index=True)
        table = self._adjust(table)
        table = self._verdicts(table)
        srm = self._srm(arms, unit, notes)
        seg_tests = self._segment_tests(table) if self.segment else None
        days = self._days_run(pooled, arms, unit)
        options = AnalysisOptions(
            arm=self.arm, control=arms[0], arms=tuple(arms),
            metrics=tuple(m.name for m in self.metrics), segment=self.segment,
            alpha=self.alpha, method=self.method, correction=self.correction,
            unit=unit, days=days, power=self.power, tuning=self.tuning,
            covariate=dict(self.covariate),
        )
        rec = recommend(table, options=options, srm=srm, segment_tests=seg_tests,
                        metrics=self.metrics)
        return ExperimentResults(
            table=table, srm=srm, segment_tests=seg_tests, options=options,
            notes=tuple(notes), decision=rec.decision, summary_text=rec.text,
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

    @staticmethod
    def _arrays(stats: pd.DataFrame, name: str, arms: list[str],
                segments: list[str]) -> dict[str, np.ndarray]:
        """The six sufficient statistics of one metric as (arms, segments) arrays (0 if absent)."""
        sub = stats[stats["metric"] == name].set_index(["arm", "segment"])
        full = pd.MultiIndex.from_product([arms, segments], names=["arm", "segment"])
        sub = sub.reindex(full)
        return {c: sub[c].astype("Float64").fillna(0.0).to_numpy(dtype=float).reshape(
            len(arms), len(segments)) for c in STAT_COLUMNS}

    @staticmethod
    def _usable(a: dict[str, np.ndarray], analysis: str) -> tuple[np.ndarray, str]:
        """Cells (arm, segment) that can be tested, and why the others cannot."""
        if analysis == "proportion":
            return a["n"] > 0, "no units (zero traffic)"
        ok = a["n"] >= 2
        if analysis == "ratio":
            return ok & (a["den_sum"] > 0), ("fewer than 2 units or a denominator total of 0 "
                                              "(e.g. no conversions for a cost per conversion)")
        return ok, "fewer than 2 units (a variance needs at least 2)"

    def _analyze_metric(self, stats: pd.DataFrame, m: Metric, unit: str, arms: list[str],
                        segments: list[str], notes: list[str]) -> pd.DataFrame:
        """Tests for one metric: arms on axis 0, segments (pooled first) on axis 1."""
        analysis = m.analysis(unit)  # type: ignore[arg-type]
        a = self._arrays(stats, m.name, arms, segments)
        use_cuped = m.name in self.covariate
        if use_cuped and self.method == "bayesian" and analysis == "proportion":
            use_cuped = False
            notes.append(f"{m.name}: no CUPED with method='bayesian' (the exact beta-binomial "
                         "posterior is used)")
        c = self._arrays(stats, m.name + _CUPED_SUFFIX, arms, segments) if use_cuped else None
        usable, why = self._usable(a, analysis)
        if c is not None:
            ok_c, why_c = self._usable(c, "mean")
            if usable.all() and not ok_c.all():
                why = why_c
            usable = usable & ok_c
        if a["n"][:, 0].min() <= 0:
            who = ", ".join(arms[i] for i in np.flatnonzero(a["n"][:, 0] <= 0))
            raise ValueError(f"metric {m.name!r}: arm(s) {who} have no data (zero traffic); "
                             "drop them or wait for traffic")
        if not usable[:, 0].all():
            who = ", ".join(arms[i] for i in np.flatnonzero(~usable[:, 0]))
            raise ValueError(f"metric {m.name!r}: arm(s) {who} cannot be tested: {why}")
        keep = usable.all(axis=0)
        if not keep.all():
            dropped = [segments[j] for j in np.flatnonzero(~keep)]
            notes.append(f"{m.name}: segment(s) {', '.join(dropped)} left out (an arm there has "
                         f"{why})")
        segs = [s for s, k in zip(segments, keep, strict=True) if k]
        a = {k: v[:, keep] for k, v in a.items()}
        if c is not None:
            c = {k: v[:, keep] for k, v in c.items()}
            lost = int(a["n"][:, 0].sum() - c["n"][:, 0].sum())
            if lost:
                notes.append(f"{m.name}: {lost} lead(s) without {self.covariate[m.name]!r} left "
                             "out of the CUPED comparison")
        try:
            cols = self._compare(a, c, analysis, m)
        except ValueError as exc:
            raise ValueError(f"metric {m.name!r}: {exc}") from exc
        return self._tidy(cols, a if c is None else c, a, m, unit, analysis, arms, segs,
                          cuped=c is not None)

    def _comparison(self, a: dict[str, np.ndarray], c: dict[str, np.ndarray] | None,
                    analysis: str) -> tuple[ComparisonResult, str, dict[str, np.ndarray]]:
        """Fixed-horizon comparison (arms × segments), the test's name and CUPED extras."""
        if c is not None:
            out = cuped_arrays(c["n"], c["num_sum"], c["num_sum_sq"], c["den_sum"],
                               c["den_sum_sq"], c["cross_sum"], alpha=self.alpha)
            return out.result, "cuped-z", {"cuped_theta": out.theta,
                                           "variance_reduction": out.variance_reduction}
        if analysis == "proportion":
            res = frequentist.proportion_test_arrays(a["num_sum"], a["n"], alpha=self.alpha)
            return res, "wald-z", {}
        if analysis == "mean":
            res = frequentist.mean_test_arrays(a["n"], a["num_sum"], a["num_sum_sq"],
                                               alpha=self.alpha)
            return res, "welch-t", {}
        res = frequentist.ratio_test_arrays(a["n"], a["num_sum"], a["num_sum_sq"], a["den_sum"],
                                            a["den_sum_sq"], a["cross_sum"], alpha=self.alpha)
        return res, "delta-welch-t", {}

    def _compare(self, a: dict[str, np.ndarray], c: dict[str, np.ndarray] | None,
                 analysis: str, m: Metric) -> dict[str, np.ndarray]:
        """Columns for the treatment rows (segment-major, then arm) of one metric."""
        res, test, extra = self._comparison(a, c, analysis)
        cols: dict[str, np.ndarray] = {}
        if self.method == "bayesian":
            level = 1 - self.alpha
            if analysis == "proportion":
                b = bayesian.bayes_proportion(a["num_sum"], a["n"], ci_level=level)
                post = {k: b[k].to_numpy(dtype=float) for k in
                        ("rel_lift", "rel_cred_low", "rel_cred_high", "prob_beat_control",
                         "expected_loss", "expected_loss_control")}
                test = "beta-binomial"
            else:
                s = bayesian.bayes_normal_arrays(res, ci_level=level)
                post = {"rel_lift": _flat(s.effect), "rel_cred_low": _flat(s.cred_low),
                        "rel_cred_high": _flat(s.cred_high),
                        "prob_beat_control": _flat(s.prob_beat_control),
                        "expected_loss": _flat(s.expected_loss),
                        "expected_loss_control": _flat(s.expected_loss_control)}
                test = f"normal ({test})"
            if not m.higher_is_better:  # "beat" = lower; losses swap with the direction
                post["prob_beat_control"] = 1.0 - post["prob_beat_control"]
                post["expected_loss"], post["expected_loss_control"] = (
                    post["expected_loss_control"], post["expected_loss"])
            cols.update(post)
            # frequentist difference and SE kept for planning and heterogeneity (documented)
            cols["abs_diff"], cols["std_error"] = _flat(res.abs_diff), _flat(res.std_error)
        else:
            if self.method == "sequential":
                frame = sequential.always_valid_frame(res, alpha=self.alpha, tuning=self.tuning,
                                                      method=f"always-valid ({test})")
            else:
                frame = frequentist.result_frame(res, method=test, alpha=self.alpha,
                                                 alternative="two-sided",
                                                 n_arms=res.p_value.shape[0] + 1,
                                                 batch_shape=res.p_value.shape[1:])
            test = str(frame["method"].iloc[0])
            for k in ("abs_diff", "std_error", "p_value", "abs_ci_low", "abs_ci_high",
                      "rel_lift", "rel_ci_low", "rel_ci_high", "rel_ci_shape"):
                cols[k] = frame[k].to_numpy()
        cols["test"] = np.full(cols["abs_diff"].shape, test, dtype=object)
        for k, v in extra.items():
            cols[k] = _flat(v)
        if self.covariate and not extra:  # documented: 0 where no adjustment was made
            cols["cuped_theta"] = np.zeros(cols["abs_diff"].shape)
            cols["variance_reduction"] = np.zeros(cols["abs_diff"].shape)
        return cols

    def _tidy(self, cols: dict[str, np.ndarray], tested: dict[str, np.ndarray],
              a: dict[str, np.ndarray], m: Metric, unit: str, analysis: str, arms: list[str],
              segs: list[str], *, cuped: bool) -> pd.DataFrame:
        """One row per segment × arm (control rows included) for one metric.

        ``n`` is the units in the test (for CUPED: leads with the covariate), ``value`` the
        arm's unadjusted metric value.
        """
        k, s = len(arms), len(segs)
        value = a["num_sum"] / a["den_sum"]
        value_se = _value_se(a, analysis)
        base = pd.DataFrame({
            "metric": m.name, "metric_label": m.label, "segment": np.repeat(segs, k),
            "arm": np.tile(arms, s), "is_control": np.tile([True] + [False] * (k - 1), s),
            "unit": unit, "analysis": analysis,
            "higher_is_better": m.higher_is_better, "display": m.display,
            "n": tested["n"].T.ravel(), "value": value.T.ravel(),
            "value_se": value_se.T.ravel(),
        })
        idx = np.flatnonzero(~base["is_control"].to_numpy())
        for c, v in cols.items():
            v = np.asarray(v)
            numeric = v.dtype.kind in "fiu"
            col = pd.Series(pd.NA, index=base.index, dtype="Float64" if numeric else "string")
            col.iloc[idx] = v.astype(float) if numeric else v.astype(str)
            base[c] = col
        if self.covariate:
            base["cuped"] = cuped
        base["method"] = self.method
        return base

    def _adjust(self, table: pd.DataFrame) -> pd.DataFrame:
        """Multiple-comparison correction, pooled family and segment family separately."""
        table = table.copy()
        if self.method == "bayesian":
            table["family"] = pd.array(
                ["none (Bayesian: posterior probabilities, no multiplicity adjustment)"]
                * len(table), dtype="string")
            return table
        table["p_adjusted"] = pd.Series(pd.NA, index=table.index, dtype="Float64")
        table["family"] = pd.Series(pd.NA, index=table.index, dtype="string")
        treated = ~table["is_control"]
        what = {"holm": "Holm", "bh": "Benjamini-Hochberg", "bonferroni": "Bonferroni",
                "none": "no correction"}[self.correction]
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
            table.loc[mask, "family"] = f"{label} ({size} tests, {what})"
        table.loc[~treated, "family"] = "control"
        return table

    def _verdicts(self, table: pd.DataFrame) -> pd.DataFrame:
        """``verdict`` per treatment row: ``better`` / ``worse`` / ``inconclusive``.

        Direction follows ``higher_is_better`` (for cost per conversion "better" means lower).
        Frequentist and sequential rows also get ``significant``: the relative confidence set
        excludes 0 (:func:`~abtest.stats.frequentist.interval_excludes`, honouring
        ``rel_ci_shape``) *and* the multiplicity-adjusted p-value is below alpha; the sign of
        the change gives the direction. Bayesian rows: better when the chance to beat control
        (direction-aware) is at least 1 − alpha, worse when it is at most alpha.
        """
        table = table.copy()
        treated = ~table["is_control"].to_numpy(dtype=bool)
        t = table[treated]
        sign = np.where(t["higher_is_better"].to_numpy(dtype=bool), 1.0, -1.0)
        if self.method == "bayesian":
            prob = t["prob_beat_control"].to_numpy(dtype=float)
            better, worse = prob >= 1 - self.alpha, prob <= self.alpha
        else:
            excl = interval_excludes(t["rel_ci_low"].to_numpy(dtype=float),
                                     t["rel_ci_high"].to_numpy(dtype=float),
                                     t["rel_ci_shape"].to_numpy(dtype=str))
            sig = excl & (t["p_adjusted"].to_numpy(dtype=float) < self.alpha)
            col = pd.Series(pd.NA, index=table.index, dtype="boolean")
            col.iloc[np.flatnonzero(treated)] = sig
            table["significant"] = col
            up = sign * np.sign(t["rel_lift"].to_numpy(dtype=float))
            better, worse = sig & (up > 0), sig & (up < 0)
        verdict = pd.Series(pd.NA, index=table.index, dtype="string")
        verdict.iloc[np.flatnonzero(treated)] = np.where(
            better, "better", np.where(worse, "worse", "inconclusive"))
        table["verdict"] = verdict
        return table

    def _srm(self, arms: list[str], unit: str, notes: list[str]) -> dict[str, Any]:
        """Chi-square of the units (rows of user-level data) per arm against the planned split."""
        if unit != "user":
            notes.append("sample-ratio check skipped: ad-level daily data has no unit counts "
                         "(every arm has the same days); run it on user-level data")
            return {"checked": False, "p_value": None, "flag": False, "counts": {},
                    "expected_shares": {}}
        table = resolve(self.data, backend=self.backend)
        per_arm = table.group_by(_arm=table[self.arm].cast("string")).aggregate(
            _n=table.count()).execute()
        found = dict(zip(per_arm["_arm"].astype(str), per_arm["_n"].astype(float), strict=True))
        counts = np.array([found.get(a, 0.0) for a in arms])
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


def _value_se(a: dict[str, np.ndarray], analysis: str) -> np.ndarray:
    """Standard error of each arm's own (unadjusted) value, from its sufficient statistics.

    Proportion: sqrt(p(1-p)/n); mean: sqrt(s²/n); ratio Σx/Σy: the delta method over units,
    sqrt((s_x² − 2R s_xy + R² s_y²) / (n ȳ²)) (Deng, Knoblich & Lu 2018). Used to compare arms
    that each beat the control with one another.
    """
    n, sx, sxx = a["n"], a["num_sum"], a["num_sum_sq"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if analysis == "proportion":
            p = sx / n
            return np.sqrt(p * (1 - p) / n)
        var_x = (sxx - sx * sx / n) / (n - 1)
        if analysis == "mean":
            return np.sqrt(np.maximum(var_x, 0.0) / n)
        sy, syy, sxy = a["den_sum"], a["den_sum_sq"], a["cross_sum"]
        ratio, ybar = sx / sy, sy / n
        var_y = (syy - sy * sy / n) / (n - 1)
        cov = (sxy - sx * sy / n) / (n - 1)
        var = (var_x - 2 * ratio * cov + ratio**2 * var_y) / (n * ybar**2)
        return np.sqrt(np.maximum(var, 0.0))


def _flat(arr: Any) -> np.ndarray:
    """(arms − 1, segments) -> treatment rows ordered segment-major, then arm."""
    a = np.asarray(arr, dtype=float)
    return a.reshape(a.shape[0], -1).T.reshape(-1)
