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
from abtest.aggregate.sufficient import daily_stats
from abtest.experiment import families
from abtest.experiment.adlevel import daily_arrays
from abtest.experiment.comparisons import exact_where_small, missing_report, paired, value_se
from abtest.experiment.options import AnalysisOptions, Correction, Method
from abtest.experiment.results import ExperimentResults
from abtest.experiment.summary import recommend
from abtest.metrics import Metric, resolve_metrics
from abtest.stats import bayesian, frequentist, sequential
from abtest.stats.checks import SRM_THRESHOLD, srm_test
from abtest.stats.cuped import cuped_arrays
from abtest.stats.frequentist import ComparisonResult, interval_excludes
from abtest.stats.heterogeneity import heterogeneity_test, simpson_warning

__all__ = ["Experiment"]

ALL_SEGMENTS = "all"
SRM_ALPHA = SRM_THRESHOLD
_CUPED_SUFFIX = "__cuped"
#: Default planned minimum detectable effect: a 10 % relative change of the primary metric.
DEFAULT_MDE = 0.10
#: Default always-valid tuning N* (units in the two compared arms): gbstats' 5,000 users, or
#: two arms × 28 days for ad-level daily data (the confidence sequence is tightest at 4 weeks).
TUNING_USERS, TUNING_DAYS = 5000.0, 56.0


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
        Significance level; ``"frequentist"`` (z / Welch / delta method; Fisher's exact test
        for proportions when an expected cell is below 5), ``"bayesian"``
        (beta-binomial or normal approximation; no p-values) or ``"sequential"`` (always-valid
        p-values, safe under daily peeking); multiple-comparison correction within each family:
        ``primary`` (the first metric's arms), ``secondary`` (the other metrics), and the same
        two by segment. Intervals in ``abs_ci_*``/``rel_ci_*`` are at the adjusted decision
        level (``ci_level``); ``*_unadjusted`` keep the 1 − alpha ones.
    planned_shares:
        Planned traffic split per arm (mapping arm -> share, or a sequence in sorted-arm order);
        default equal. Used by the sample-ratio-mismatch check, flagged at p < 0.001.
    unit:
        ``"user"``, ``"day"`` or ``"auto"``. Ad-level daily rows (``"day"``) are summed per arm
        × day and the arms are *paired by day* (:mod:`abtest.stats.daily`: paired delta
        method, t on days − 1 df; the shared day effect cancels). Assumptions: the arms share
        the day effect, days are independent replicates of the contrast, and each day's
        audience is a fresh draw (a persistent audience retargeted daily is not corrected).
        Days with fewer than 5 denominator events (e.g. conversions for cost per conversion)
        are pooled into blocks; with fewer than 5 blocks the row is not judged (``test``
        "not judged ...", ``note`` says how many more days at the current rate are needed).
    days:
        Days the test has run (for "keep testing about N more days"). Default: distinct dates
        for ad-level data, the span of ``entry_time`` for user-level data when present.
    mde:
        Planned minimum detectable effect, relative (default 0.10 = 10 %): ``days_needed`` /
        ``more_days`` say how long the test must run to detect it with ``power`` (never sized
        on the observed effect; :func:`abtest.stats.planning.days_to_detect`).
    tuning:
        Always-valid tuning N* for ``method="sequential"`` (units in the two compared arms):
        default 5,000 users, or 56 for ad-level data (two arms × 28 days).
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
        tuning: float | None = None,
        date: str = "date",
        backend: Any = None,
        covariate: str | Mapping[str, str] | None = None,
        mde: float = DEFAULT_MDE,
    ) -> None:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
        if method not in ("frequentist", "bayesian", "sequential"):
            raise ValueError(f"method must be frequentist, bayesian or sequential, got {method!r}")
        if correction not in ("holm", "bh", "bonferroni", "none"):
            raise ValueError(f"correction must be holm, bh, bonferroni or none, got {correction!r}")
        if days is not None and not days > 0:
            raise ValueError(f"days must be positive, got {days}")
        if not (np.isfinite(mde) and mde > 0):
            raise ValueError(f"mde (planned relative effect, e.g. 0.1 for 10 %) must be > 0, "
                             f"got {mde}")
        if tuning is not None and not tuning > 0:
            raise ValueError(f"tuning must be positive, got {tuning}")
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
        self.tuning = None if tuning is None else float(tuning)
        self.mde = float(mde)
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
        missing_report(self.data, self.metrics, self.arm, self.backend, unit, notes)
        daily = self._daily(unit, segments) if unit == "day" else None
        days = self._days_run(pooled, arms, unit)
        self._tuning = self.tuning or (TUNING_DAYS if unit == "day" else TUNING_USERS)
        if unit == "day" and self.method == "sequential":
            notes.append(f"sequential on ad-level data: always-valid over paired days, tuned "
                         f"for {self._tuning / 2:g} days per arm")
        rows = [self._analyze_metric(stats, m, unit, arms, segments, notes, daily)
                for m in self.metrics]
        table = pd.concat(rows, ignore_index=True)
        primary = self.metrics[0].name
        table = families.adjust(table, primary=primary, correction=self.correction,
                                method=self.method)
        if self.method != "bayesian":
            table = families.intervals(table, alpha=self.alpha)
        table = self._verdicts(table)
        if self.method != "bayesian":
            table = families.plan(table, days_run=days, mde=self.mde, alpha=self.alpha,
                                  power=self.power, correction=self.correction)
        table = table.drop(columns=[c for c in table.columns if c.startswith("_")])
        for note in table.loc[table["note"].fillna("") != "", "note"].unique() \
                if "note" in table.columns else ():
            if note not in notes:
                notes.append(str(note))
        srm = self._srm(arms, unit, notes)
        seg_tests = self._segment_tests(table) if self.segment else None
        options = AnalysisOptions(
            arm=self.arm, control=arms[0], arms=tuple(arms),
            metrics=tuple(m.name for m in self.metrics), segment=self.segment,
            alpha=self.alpha, method=self.method, correction=self.correction,
            unit=unit, days=days, power=self.power, tuning=self._tuning,
            covariate=dict(self.covariate), mde=self.mde, paired_by_day=unit == "day",
            more_days=families.more_days_summary(table, primary),
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
                        segments: list[str], notes: list[str],
                        daily: pd.DataFrame | None = None) -> pd.DataFrame:
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
        pairs = None
        if daily is not None:
            num, den = daily_arrays(daily, m.name, arms, segments)
            pairs = (num[:, keep], den[:, keep])
        try:
            cols = self._compare(a, c, analysis, m, pairs)
        except ValueError as exc:
            raise ValueError(f"metric {m.name!r}: {exc}") from exc
        return self._tidy(cols, a if c is None else c, a, m, unit, analysis, arms, segs,
                          cuped=c is not None)

    def _comparison(self, a: dict[str, np.ndarray], c: dict[str, np.ndarray] | None,
                    analysis: str, m: Metric,
                    pairs: tuple[np.ndarray, np.ndarray] | None = None,
                    ) -> tuple[ComparisonResult, np.ndarray, dict[str, np.ndarray],
                               dict[str, np.ndarray]]:
        """Fixed-horizon comparison (arms × segments): result, test name per cell, CUPED extras
        and the *contrast* (means, variances, covariance, dof) every interval is built from."""
        extra: dict[str, np.ndarray] = {}
        if pairs is not None:
            return paired(pairs, m, self.alpha)
        if c is not None:
            out = cuped_arrays(c["n"], c["num_sum"], c["num_sum_sq"], c["den_sum"],
                               c["den_sum_sq"], c["cross_sum"], alpha=self.alpha)
            res = out.result
            known = res.std_error == 0  # exact difference: the degenerate convention
            contrast = {"mc": res.control_mean, "mt": res.treatment_mean,
                        "vc": np.where(known, res.control_var, out.control_var_full),
                        "vt": np.where(known, res.treatment_var, out.treatment_var_full),
                        "cov": np.where(known, 0.0, out.covariance), "dof": res.dof}
            extra = {"cuped_theta": out.theta, "variance_reduction": out.variance_reduction}
            return res, np.full(res.p_value.shape, "cuped-z", dtype=object), extra, contrast
        if analysis == "proportion":
            res = frequentist.proportion_test_arrays(a["num_sum"], a["n"], alpha=self.alpha)
            test = np.full(res.p_value.shape, "wald-z", dtype=object)
            if self.method == "frequentist":
                res, test = exact_where_small(a, res, test)
        elif analysis == "mean":
            res = frequentist.mean_test_arrays(a["n"], a["num_sum"], a["num_sum_sq"],
                                               alpha=self.alpha)
            test = np.full(res.p_value.shape, "welch-t", dtype=object)
        else:
            res = frequentist.ratio_test_arrays(a["n"], a["num_sum"], a["num_sum_sq"],
                                                a["den_sum"], a["den_sum_sq"], a["cross_sum"],
                                                alpha=self.alpha)
            test = np.full(res.p_value.shape, "delta-welch-t", dtype=object)
        contrast = {"mc": res.control_mean, "mt": res.treatment_mean, "vc": res.control_var,
                    "vt": res.treatment_var, "cov": np.zeros(res.p_value.shape),
                    "dof": res.dof}
        return res, test, extra, contrast

    def _compare(self, a: dict[str, np.ndarray], c: dict[str, np.ndarray] | None,
                 analysis: str, m: Metric,
                 pairs: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Columns for the treatment rows (segment-major, then arm) of one metric.

        Columns starting with ``_`` carry the contrast to :func:`families.intervals` and are
        dropped before the table is returned.
        """
        res, tests, extra, contrast = self._comparison(a, c, analysis, m, pairs)
        cols: dict[str, np.ndarray] = {}
        if self.method == "bayesian":
            level = 1 - self.alpha
            if analysis == "proportion" and pairs is None:
                b = bayesian.bayes_proportion(a["num_sum"], a["n"], ci_level=level)
                post = {k: b[k].to_numpy(dtype=float) for k in
                        ("rel_lift", "rel_cred_low", "rel_cred_high", "prob_beat_control",
                         "expected_loss", "expected_loss_control")}
                tests = np.full(tests.shape, "beta-binomial", dtype=object)
            else:
                s = bayesian.bayes_normal_arrays(res, ci_level=level)
                post = {"rel_lift": _flat(s.effect), "rel_cred_low": _flat(s.cred_low),
                        "rel_cred_high": _flat(s.cred_high),
                        "prob_beat_control": _flat(s.prob_beat_control),
                        "expected_loss": _flat(s.expected_loss),
                        "expected_loss_control": _flat(s.expected_loss_control)}
                tests = np.array([f"normal ({t})" for t in tests.ravel()],
                                 dtype=object).reshape(tests.shape)
            if not m.higher_is_better:  # "beat" = lower; losses swap with the direction
                post["prob_beat_control"] = 1.0 - post["prob_beat_control"]
                post["expected_loss"], post["expected_loss_control"] = (
                    post["expected_loss_control"], post["expected_loss"])
            cols.update(post)
            # frequentist difference and SE kept for planning and heterogeneity (documented)
            cols["abs_diff"], cols["std_error"] = _flat(res.abs_diff), _flat(res.std_error)
        else:
            p = res.p_value
            if self.method == "sequential":
                n_total = res.control_n + res.treatment_n
                av = sequential.always_valid_arrays(res, alpha=self.alpha, tuning=self._tuning)
                p = np.where(np.isfinite(res.std_error), av.p_value, 1.0)
                contrast["nr2"] = n_total * sequential._rho_squared(self.alpha, self._tuning)
                contrast["dof"] = np.full(p.shape, np.inf)
                tests = np.array([f"always-valid ({t})" for t in tests.ravel()],
                                 dtype=object).reshape(tests.shape)
            cols["abs_diff"], cols["std_error"] = _flat(res.abs_diff), _flat(res.std_error)
            cols["p_value"], cols["rel_lift"] = _flat(p), _flat(res.rel_lift)
            for k, v in contrast.items():
                cols["_" + k] = _flat(v)
        cols["test"] = _flat_obj(tests)
        for k, v in extra.items():
            cols[k] = _flat_obj(v) if np.asarray(v).dtype == object else _flat(v)
        if self.covariate and "cuped_theta" not in extra:  # documented: 0 where not adjusted
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
        own_se = value_se(a, analysis)
        base = pd.DataFrame({
            "metric": m.name, "metric_label": m.label, "segment": np.repeat(segs, k),
            "arm": np.tile(arms, s), "is_control": np.tile([True] + [False] * (k - 1), s),
            "unit": unit, "analysis": analysis,
            "higher_is_better": m.higher_is_better, "display": m.display,
            "n": tested["n"].T.ravel(), "value": value.T.ravel(),
            "value_se": own_se.T.ravel(),
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

    def _daily(self, unit: str, segments: list[str]) -> pd.DataFrame:
        """Arm × day totals per metric (pooled as segment ``all``, plus per segment)."""
        kw = dict(metrics=self.metrics, arm=self.arm, date=self.date, backend=self.backend)
        frames = [daily_stats(self.data, **kw).assign(segment=ALL_SEGMENTS)]
        if self.segment:
            frames.append(daily_stats(self.data, segment=self.segment, **kw))
        out = pd.concat(frames, ignore_index=True)
        out["segment"] = out["segment"].astype("string")
        out["arm"] = out["arm"].astype("string")
        return out

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


def _flat_obj(arr: Any) -> np.ndarray:
    """:func:`_flat` for text arrays."""
    a = np.asarray(arr, dtype=object)
    return a.reshape(a.shape[0], -1).T.reshape(-1)


def _flat(arr: Any) -> np.ndarray:
    """(arms − 1, segments) -> treatment rows ordered segment-major, then arm."""
    a = np.asarray(arr, dtype=float)
    return a.reshape(a.shape[0], -1).T.reshape(-1)
