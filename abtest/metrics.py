"""KPIs defined once, as a numerator and a denominator over a unit of analysis.

A :class:`Metric` names the columns it sums; it never stores a rate. The aggregation layer
(:mod:`abtest.aggregate`) turns a canonical table into sufficient statistics per arm for the
metric's numerator ``x`` and denominator ``y`` — ``n, Σx, Σx², Σy, Σy², Σxy`` over *units* — and the
statistics pick the test from :meth:`Metric.analysis`:

* ``unit="user"`` (one row per lead, e.g. :func:`abtest.aggregate.user_metrics`):

  - ``kind="proportion"``: the numerator is 0/1 per user and the denominator is the user itself,
    so the user is the Bernoulli trial: two-proportion test on ``(num_sum, n)``.
  - ``kind="ratio"``: both sides vary per user (clicks / impressions); the estimate is
    ``Σx / Σy`` and its variance comes from the delta method with the numerator–denominator
    covariance (Deng, Knoblich & Lu 2018, "Applying the Delta Method in Metric Analytics").
  - ``kind="mean"``: a per-user amount (revenue per lead): Welch test on ``x``.

* ``unit="day"`` (ad-level daily exports, :data:`abtest.schema.AD_STATS`): impressions in a daily
  export are not independent trials — the same people see an ad many times and a day's traffic
  moves together. Rows are summed into clusters ``arm × date`` and every metric is analysed as a
  cluster ratio ``Σ_day x / Σ_day y`` with the delta method over days (cluster-robust ratio
  estimator). Per-lead metrics cannot be computed from ad exports and raise.

Reach is an estimate of unique people *per report row*; it is never additive across rows. The
only metric that uses it, :data:`FREQUENCY`, is therefore only meaningful per row or per day: on
ad-level data the aggregation sums reach over the ads of one arm on one day (exact when each arm
runs one ad group, an over-count of people — so frequency is understated — when ads of one arm
share an audience) and then treats days as clusters. The result is a reach-weighted mean daily
frequency, not the frequency over the whole test (which needs the export's own total row).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONVERSION_RATE",
    "COST_PER_CONVERSION",
    "COST_PER_LEAD",
    "CTR",
    "CVR_CLICK",
    "CVR_IMPRESSION",
    "ENGAGEMENT_RATE",
    "FREQUENCY",
    "MARGIN_VALUE_PER_LEAD",
    "METRICS",
    "OFFER_MARGIN_VALUE",
    "REVENUE_PER_LEAD",
    "ROAS",
    "VIDEO_COMPLETION",
    "Analysis",
    "Display",
    "Kind",
    "Metric",
    "Unit",
    "get_metric",
    "margin_value_per_lead",
    "resolve_metrics",
]

Kind = Literal["proportion", "ratio", "mean"]
#: How a metric's values are shown: rates as percentages, costs and values as money.
Display = Literal["percent", "money", "number"]
Unit = Literal["user", "day"]
Analysis = Literal["proportion", "ratio", "mean"]

Terms = tuple[tuple[str, float], ...]
ColumnSpec = str | Iterable[str] | Mapping[str, float] | Terms


def _terms(spec: str | Iterable[str] | Mapping[str, float] | None, *, what: str) -> Terms:
    """Normalise a column spec to ``((column, weight), ...)``: a name, names to add, or weights."""
    if spec is None:
        return ()
    if isinstance(spec, str):
        items: list[tuple[str, float]] = [(spec, 1.0)]
    elif isinstance(spec, Mapping):
        items = [(str(k), float(v)) for k, v in spec.items()]
    else:
        items = []
        for item in spec:
            if isinstance(item, str):
                items.append((item, 1.0))
            else:
                col, weight = item
                items.append((str(col), float(weight)))
    if not items:
        raise ValueError(f"{what} needs at least one column")
    for col, _ in items:
        if not col or not col.isidentifier():
            raise ValueError(f"{what}: {col!r} is not a valid column name")
    return tuple(items)


@dataclass(frozen=True)
class Metric:
    """A KPI as ``Σ numerator / Σ denominator`` over units.

    ``numerator`` (and ``denominator``) is a column name, a sequence of names that are added, or a
    mapping ``{column: weight}`` for a linear combination (e.g. value minus discount cost). A
    ``denominator`` of ``None`` means "per unit" (per lead at user level): the denominator is 1 for
    every unit, so ``den_sum == n``. Sequences and mappings are normalised to a tuple of
    ``(column, weight)`` pairs, so a Metric stays hashable. ``display`` says how values are shown
    (default ``"percent"`` for a proportion, ``"number"`` otherwise): reports take the format
    from the metric, never from its name.
    """

    name: str
    label: str
    numerator: ColumnSpec
    denominator: ColumnSpec | None
    kind: Kind
    higher_is_better: bool = True
    description: str = ""
    display: Display | None = None

    def __post_init__(self) -> None:
        if self.display is None:
            object.__setattr__(self, "display",
                               "percent" if self.kind == "proportion" else "number")
        if self.display not in ("percent", "money", "number"):
            raise ValueError(f"metric display must be percent, money or number, "
                             f"got {self.display!r}")
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"metric name must be lower_snake_case, got {self.name!r}")
        if self.kind not in ("proportion", "ratio", "mean"):
            raise ValueError(f"metric kind must be proportion, ratio or mean, got {self.kind!r}")
        num = _terms(self.numerator, what=f"metric {self.name!r} numerator")
        den = _terms(self.denominator, what=f"metric {self.name!r} denominator")
        if self.kind in ("proportion", "mean") and den:
            raise ValueError(
                f"metric {self.name!r}: a {self.kind} is per unit, so its denominator must be None"
            )
        if self.kind == "ratio" and not den:
            raise ValueError(f"metric {self.name!r}: a ratio needs a denominator column")
        object.__setattr__(self, "numerator", num)
        object.__setattr__(self, "denominator", den or None)

    @property
    def numerator_terms(self) -> Terms:
        """The numerator as ``((column, weight), ...)``."""
        return self.numerator  # type: ignore[return-value]  # normalised in __post_init__

    @property
    def denominator_terms(self) -> Terms:
        """The denominator as ``((column, weight), ...)``; empty when it is "per unit"."""
        return self.denominator or ()  # type: ignore[return-value]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every input column the metric reads, numerator first, without duplicates."""
        seen: dict[str, None] = {}
        for col, _ in self.numerator_terms + self.denominator_terms:
            seen.setdefault(col, None)
        return tuple(seen)

    def analysis(self, unit: Unit) -> Analysis:
        """Which test applies to this metric at this unit (see the module docstring).

        ``"proportion"``: two-proportion / beta-binomial on ``(num_sum, n)``;
        ``"ratio"``: delta-method ratio on all six sufficient statistics (at ``unit="day"`` the
        units are arm × day clusters); ``"mean"``: Welch on ``(n, num_sum, num_sum_sq)``.
        """
        if unit == "user":
            return self.kind
        if unit == "day":
            if self.denominator is None:
                raise ValueError(
                    f"metric {self.name!r} is per lead; it needs user-level data "
                    "(abtest.aggregate.user_metrics), not an ad-level daily export"
                )
            return "ratio"
        raise ValueError(f"unit must be 'user' or 'day', got {unit!r}")


def _m(
    name: str,
    label: str,
    numerator: ColumnSpec,
    denominator: ColumnSpec | None,
    kind: Kind,
    higher_is_better: bool,
    description: str,
    display: Display,
) -> Metric:
    return Metric(name, label, numerator, denominator, kind, higher_is_better, description,
                  display)


CTR = _m(
    "ctr", "CTR", "clicks", "impressions", "ratio", True,
    "Destination clicks per impression. A ratio, not a proportion: impressions of one person are "
    "not independent trials.",
    "percent",
)
CVR_CLICK = _m(
    "cvr_click", "CVR (per click)", "conversions", "clicks", "ratio", True,
    "Conversions per destination click.",
    "percent",
)
CVR_IMPRESSION = _m(
    "cvr_impression", "CVR (per impression)", "conversions", "impressions", "ratio", True,
    "Conversions per impression.",
    "percent",
)
CONVERSION_RATE = _m(
    "conversion_rate", "Conversion rate (per lead)", "converted", None, "proportion", True,
    "Share of leads with at least one conversion in the analysis window (0/1 per lead).",
    "percent",
)
COST_PER_CONVERSION = _m(
    "cost_per_conversion", "Cost per conversion", "cost", "conversions", "ratio", False,
    "Spend divided by conversions (CPA); lower is better.",
    "money",
)
ROAS = _m(
    "roas", "ROAS", "conversion_value", "cost", "ratio", True,
    "Purchase value divided by spend.",
    "number",
)
ENGAGEMENT_RATE = _m(
    "engagement_rate", "Engagement rate", ("likes", "comments", "shares"),
    "impressions", "ratio", True,
    "Paid likes + comments + shares per impression. Follows are left out because exports only "
    "have them for Spark Ads (missing otherwise, which would drop the row). TikTok's 'clicks "
    "(all)' also counts profile and social clicks; define Metric('engagement_rate_all', "
    "'Engagement rate (all clicks)', 'clicks_all', 'impressions', 'ratio') for that definition.",
    "percent",
)
FREQUENCY = _m(
    "frequency", "Frequency", "impressions", "reach", "ratio", False,
    "Impressions per person reached. Reach is per row and never additive across rows: on daily "
    "ad data reach is summed over the ads of one arm within one day (exact for one ad group per "
    "arm, approximate otherwise) and days are clusters, giving a mean daily frequency.",
    "number",
)
VIDEO_COMPLETION = _m(
    "video_completion", "Video completion rate", "video_views_p100", "video_views", "ratio", True,
    "Views to 100% per video start.",
    "percent",
)
REVENUE_PER_LEAD = _m(
    "revenue_per_lead", "Revenue per lead", "revenue", None, "mean", True,
    "Purchase value per lead within the analysis window (zero for non-buyers).",
    "money",
)
COST_PER_LEAD = _m(
    "cost_per_lead", "Cost per result (lead)", "cost", "results", "ratio", False,
    "Spend per objective result ('Cost per result' in Ads Manager; results are leads for a "
    "lead-generation objective). Lower is better.",
    "money",
)


def margin_value_per_lead(
    *, margin: float = 1.0, discount_cost: float = 0.0, name: str = "margin_value_per_lead"
) -> Metric:
    """Margin-adjusted value per lead: ``margin × revenue − discount_cost × conversions``.

    ``margin`` is the gross margin share of purchase value; ``discount_cost`` is what each
    conversion costs the business when the offer under test is a discount or gift (e.g. a 10 EUR
    voucher: ``discount_cost=10``). Compare offers on this, not on revenue, when they differ in cost.
    """
    if not 0 < margin <= 1:
        raise ValueError(f"margin must be in (0, 1], got {margin}")
    if discount_cost < 0:
        raise ValueError(f"discount_cost must be >= 0, got {discount_cost}")
    weights = {"revenue": float(margin)}
    if discount_cost:
        weights["conversions"] = -float(discount_cost)
    return _m(
        name, "Margin value per lead", weights, None, "mean", True,
        f"{margin:g} × revenue − {discount_cost:g} × conversions, per lead.", "money",
    )


MARGIN_VALUE_PER_LEAD = margin_value_per_lead()

#: Margin value per lead after the offer's own cost: the ``margin_value`` column that
#: :func:`abtest.prepare.add_margin_value` adds (arms differ in discount and per-order cost, so
#: the value is computed per lead first).
OFFER_MARGIN_VALUE = _m(
    "offer_margin_value_per_lead", "Margin value per lead (after offer cost)", "margin_value",
    None, "mean", True,
    "Gross margin of purchases within the horizon minus what the offer cost, per lead "
    "(abtest.prepare.add_margin_value).", "money",
)

#: Built-in metrics by name. Add your own by building a :class:`Metric` and passing it directly.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        CTR, CVR_CLICK, CVR_IMPRESSION, CONVERSION_RATE, COST_PER_CONVERSION, ROAS,
        ENGAGEMENT_RATE, FREQUENCY, VIDEO_COMPLETION, REVENUE_PER_LEAD, COST_PER_LEAD,
        MARGIN_VALUE_PER_LEAD, OFFER_MARGIN_VALUE,
    )
}


def get_metric(metric: str | Metric) -> Metric:
    """A built-in metric by name (a :class:`Metric` passes through unchanged)."""
    if isinstance(metric, Metric):
        return metric
    try:
        return METRICS[metric]
    except (KeyError, TypeError):
        known = ", ".join(sorted(METRICS))
        raise ValueError(f"unknown metric {metric!r}; built-in metrics: {known}") from None


def resolve_metrics(metrics: str | Metric | Iterable[str | Metric]) -> list[Metric]:
    """A list of distinct metrics from names and/or Metric objects (order kept)."""
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    out: list[Metric] = []
    names: set[str] = set()
    for item in metrics:
        m = get_metric(item)
        if m.name in names:
            raise ValueError(f"metric {m.name!r} is listed twice")
        names.add(m.name)
        out.append(m)
    if not out:
        raise ValueError("at least one metric is needed")
    return out
