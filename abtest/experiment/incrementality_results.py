"""``IncrementalityResults``: the table of :func:`abtest.incrementality`, in words and as MMM rows.

Holds the tidy table (one row per treated arm × segment), renders itself in JupyterLab (every
string escaped), words the headline ("TikTok credits 56 conversions; the ads caused about 41
(73%, 95% CI 35–110%)") and the decision per row, and exports the lift-test rows that
marketing-mix models are calibrated with (:meth:`IncrementalityResults.to_lift_calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special

from abtest.display import escape_html, format_interval, format_value, frame_html

__all__ = ["IncrementalityResults"]

ALL = "all"


def _json(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return None
        return ("inf" if f > 0 else "-inf") if math.isinf(f) else f
    return str(v)


def _times(v: float, lo: float, hi: float) -> str:
    """iROAS with its interval: "3.02× (1.10× to 5.20×)", minus signs typeset."""
    def one(x: float) -> str:
        return "—" if pd.isna(x) else ("∞" if math.isinf(x) else f"{x:.2f}×").replace("-", "−")
    return f"{one(v)} ({one(lo)} to {one(hi)})"


def _pct0(v: float) -> str:
    return f"{v:.0%}".replace("-", "−")


def _pct_interval(low: float, high: float) -> str:
    return format_interval(low, high, "percent").replace(" to ", "–")


@dataclass(frozen=True)
class IncrementalityResults:
    """Read-only results; ``table`` returns a copy.

    Table columns: ``arm, segment ("all" = pooled), leads, holdout_leads, conversions,
    holdout_conversions, conversion_rate, holdout_rate, incremental_per_lead,
    incremental_conversions, incremental_ci_low/high, p_value, incremental_revenue,
    revenue_ci_low/high, spend, cost_per_incremental, cpi_ci_low/high, cpi_open_ended, iroas,
    iroas_ci_low/high, reached_share, effect_on_reached, reached_ci_low/high,
    attributed_conversions, incrementality_factor, factor_ci_low/high, ci_level, family``.
    ``cpi_ci_high`` is ``inf`` ("no upper bound") exactly when the increment's interval
    contains 0; ``cost_per_incremental`` is ``inf`` when the increment is <= 0.
    """

    table_: pd.DataFrame
    alpha: float
    correction: str
    holdout: str
    notes: tuple[str, ...] = ()
    channel: str = "tiktok_retargeting"
    start: str | None = None
    end: str | None = None
    currency: str = ""
    platform: str = "TikTok"
    extra: dict[str, Any] = field(default_factory=dict)

    def __init__(self, *, table: pd.DataFrame, alpha: float, correction: str, holdout: str,
                 notes: tuple[str, ...] = (), channel: str = "tiktok_retargeting",
                 start: str | None = None, end: str | None = None, currency: str = "",
                 platform: str = "TikTok", extra: dict[str, Any] | None = None) -> None:
        for k, v in (("table_", table.copy()), ("alpha", alpha), ("correction", correction),
                     ("holdout", holdout), ("notes", tuple(notes)), ("channel", channel),
                     ("start", start), ("end", end), ("currency", currency),
                     ("platform", platform), ("extra", dict(extra or {}))):
            object.__setattr__(self, k, v)

    @property
    def table(self) -> pd.DataFrame:
        return self.table_.copy()

    # -- words -------------------------------------------------------------------------------
    def _money(self, v: float) -> str:
        return format_value(v, "money", currency=self.currency)

    def sentence(self, row: pd.Series) -> str:
        """One row in words: credited vs caused, the factor, cost per incremental, iROAS."""
        level = f"{float(row['ci_level']) * 100:.4g}%"
        who = row["arm"] if row["segment"] == ALL else f"{row['arm']} ({row['segment']} leads)"
        inc = float(row["incremental_conversions"])
        lo, hi = float(row["incremental_ci_low"]), float(row["incremental_ci_high"])
        caused = (f"the ads caused about {inc:,.0f} ({level} CI {lo:,.0f} to {hi:,.0f})"
                  .replace("-", "−"))
        att = row["attributed_conversions"]
        if pd.notna(att) and att > 0:
            factor = _pct_interval(row["factor_ci_low"], row["factor_ci_high"])
            text = (f"{who}: {self.platform} credits {att:,.0f} conversions; the ads caused about "
                    f"{inc:,.0f} ({_pct0(row['incrementality_factor'])}, {level} CI {factor})")
        else:
            text = f"{who}: {caused}"
        if pd.notna(row["cost_per_incremental"]):
            if math.isinf(row["cost_per_incremental"]):
                text += "; no increment to put a cost on"
            else:
                cpi_ci = format_interval(row["cpi_ci_low"], row["cpi_ci_high"], "money",
                                         currency=self.currency)
                text += (f"; cost per incremental conversion "
                         f"{self._money(row['cost_per_incremental'])} ({cpi_ci})")
        if pd.notna(row["iroas"]):
            text += f"; iROAS {_times(row['iroas'], row['iroas_ci_low'], row['iroas_ci_high'])}"
        return text + "."

    def decision(self) -> pd.DataFrame:
        """Per row: ``verdict`` (``caused`` / ``no detectable increment`` / ``fewer``) and words.

        Among rows whose increment excludes 0, the lowest cost per incremental conversion (within
        the pooled rows and within the segment rows) is called the cheapest.
        """
        t = self.table_
        verdict = np.where(t["incremental_ci_low"] > 0, "caused",
                           np.where(t["incremental_ci_high"] < 0, "fewer",
                                    "no detectable increment"))
        words = []
        for i, row in t.reset_index(drop=True).iterrows():
            v = verdict[i]
            if v == "caused":
                w = "keep: the ads caused conversions"
                peers = t[(verdict == "caused") & ((t["segment"] == ALL) == (row["segment"] == ALL))]
                if (pd.notna(row["cost_per_incremental"]) and len(peers) > 1
                        and row["cost_per_incremental"] == peers["cost_per_incremental"].min()):
                    w = "retarget: cheapest incremental conversions"
            elif v == "fewer":
                w = "stop: fewer conversions than the holdout"
            else:
                w = "stop or test longer: no detectable increment"
            words.append(w)
        return pd.DataFrame({"arm": t["arm"].to_numpy(), "segment": t["segment"].to_numpy(),
                             "verdict": verdict, "decision": words})

    def segment_decision(self) -> str:
        """Per segment over the arms, in one sentence: where retargeting pays, where it shows
        no increment (empty without segment rows)."""
        t = self.table_.reset_index(drop=True)
        dec = self.decision()
        seg = t["segment"] != ALL
        if not seg.any():
            return ""
        go, stop = [], []
        for s in dict.fromkeys(t.loc[seg, "segment"]):
            rows = t[seg & (t["segment"] == s)]
            caused = rows[dec.loc[rows.index, "verdict"] == "caused"]
            if caused.empty:
                stop.append(str(s))
                continue
            cost = caused["cost_per_incremental"].astype(float)
            best = caused.loc[cost.idxmin()] if cost.notna().any() else caused.iloc[0]
            what = (f"{best['arm']}, {self._money(best['cost_per_incremental'])} per incremental "
                    "conversion" if pd.notna(best["cost_per_incremental"]) else str(best["arm"]))
            go.append((float(cost.min()) if cost.notna().any() else math.inf, str(s), what))
        parts = []
        for rank, (_c, s, what) in enumerate(sorted(go)):
            label = "cheapest incremental conversions" if rank == 0 and len(go) > 1 else \
                "the ads caused conversions"
            parts.append(f"retarget {s} leads: {label} ({what})")
        if stop:
            parts.append(f"stop or test longer for {', '.join(stop)} leads: no detectable "
                         "increment")
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "."

    def summary(self) -> str:
        """The pooled rows in words, one sentence per arm, and the notes."""
        pooled = self.table_[self.table_["segment"] == ALL]
        lines = [self.sentence(r) for _, r in pooled.iterrows()]
        return "\n".join(lines + [f"Note: {n}." for n in self.notes])

    def headline(self) -> str:
        """The batch banner: caused vs credited over all treated arms, best cost, best iROAS."""
        pooled = self.table_[self.table_["segment"] == ALL]
        inc = pooled["incremental_conversions"].sum()
        att = pooled["attributed_conversions"].sum(min_count=1)
        text = f"Retargeting caused about {inc:,.0f}"
        text += (f" of the {att:,.0f} conversions {self.platform} credits" if pd.notna(att)
                 else " conversions")
        ok = pooled[np.isfinite(pooled["cost_per_incremental"].astype(float))]
        if len(ok):
            best = ok.loc[ok["cost_per_incremental"].idxmin()]
            ci = format_interval(best["cpi_ci_low"], best["cpi_ci_high"], "money",
                                 currency=self.currency)
            text += (f"; cost per incremental conversion {self._money(best['cost_per_incremental'])}"
                     f" ({ci}) in {best['arm']}")
            if pd.notna(best["iroas"]):
                text += f"; iROAS {best['iroas']:.2f}×"
        return text + "."

    def best_row(self) -> pd.Series:
        """The pooled row the banner is about: the cheapest increment that excludes 0, else the
        largest increment."""
        pooled = self.table_[self.table_["segment"] == ALL]
        if pooled.empty:
            raise ValueError("no pooled rows")
        sure = pooled[pooled["incremental_ci_low"] > 0]
        cost = sure["cost_per_incremental"].astype(float)
        if len(sure) and cost.notna().any():
            return sure.loc[cost.idxmin()]
        return pooled.loc[pooled["incremental_conversions"].astype(float).idxmax()]

    def headline_fields(self) -> dict[str, Any]:
        """Fields of a report headline (``abtest.report.headline.Headline``) for :meth:`best_row`:
        the decision banner, the arm's incremental conversions with its interval and p-value."""
        r = self.best_row()
        level = f"{float(r['ci_level']) * 100:.4g}%"
        by_segment = self.segment_decision()
        return {
            "decision": self.headline() + (f" {by_segment}" if by_segment else ""),
            "metric": "Incremental conversions",
            "comparison": f"{r['arm']} vs {self.holdout}",
            "effect": float(r["incremental_conversions"]),
            "ci_low": float(r["incremental_ci_low"]),
            "ci_high": float(r["incremental_ci_high"]),
            "p_value": float(r["p_value"]),
            "p_value_note": f"unadjusted; the interval is at the family's level, {r['family']}",
            "effect_label": "conversions caused by the ads",
            "interval_label": f"{level} CI",
            "effect_format": "count",
            "currency": self.currency,
        }

    def plot(self, ax: Any = None, *, segments: bool = True) -> Any:
        """Bars: conversions the platform credits vs those the ads caused (with the interval),
        per arm and segment. Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        t = self.table_ if segments else self.table_[self.table_["segment"] == ALL]
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(t) + 2), 3.8))
        x = np.arange(len(t))
        labels = [a if s == ALL else f"{a}\n{s}" for a, s in zip(t["arm"], t["segment"],
                                                                  strict=True)]
        att = t["attributed_conversions"].astype(float).fillna(0).to_numpy()
        inc = t["incremental_conversions"].astype(float).to_numpy()
        err = np.vstack([inc - t["incremental_ci_low"].to_numpy(dtype=float),
                         t["incremental_ci_high"].to_numpy(dtype=float) - inc])
        ax.bar(x - 0.2, att, 0.4, label=f"credited by {self.platform}", color="#9aa5b1")
        ax.bar(x + 0.2, inc, 0.4, yerr=err, capsize=3, label="caused (vs holdout)",
               color="#2f6f9f")
        ax.axhline(0, color="#57606a", linewidth=0.8)
        ax.set_xticks(x, labels)
        ax.set_ylabel("conversions")
        ax.set_title("Credited vs caused conversions per arm and segment")
        ax.legend(frameon=False)
        return ax

    # -- machine-readable -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: options, notes, headline, table records and decisions."""
        records = [{k: _json(v) for k, v in rec.items()}
                   for rec in self.table_.astype(object).to_dict(orient="records")]
        return {"alpha": self.alpha, "correction": self.correction, "holdout": self.holdout,
                "channel": self.channel, "start": self.start, "end": self.end,
                "currency": self.currency, "notes": list(self.notes),
                "headline": self.headline(), "table": records,
                "decisions": self.decision().to_dict(orient="records"),
                **{k: _json(v) for k, v in self.extra.items()}}

    def to_lift_calibration(
        self,
        *,
        metric: Literal["conversions", "revenue"] = "conversions",
        style: Literal["tidy", "pymc", "robyn"] = "tidy",
        periods: float = 1.0,
        segments: bool = False,
    ) -> pd.DataFrame:
        """Lift-test rows for marketing-mix-model calibration, one per treated arm.

        Each arm is a lift test of the channel from spend ``x = 0`` (the holdout) to
        ``delta_x`` = the arm's spend, with ``delta_y`` the incremental conversions (or revenue)
        and ``sigma`` its standard error (the interval's half-width over its critical value).
        Divide by ``periods`` when the model's channel data are per period (e.g. the test's weeks)
        — ``x``, ``delta_x``, ``delta_y`` and ``sigma`` are all scaled. Styles:

        * ``"pymc"``: ``channel, x, delta_x, delta_y, sigma`` for PyMC-Marketing's
          ``MMM.add_lift_test_measurements(df_lift_test)`` (rows with ``delta_y <= 0`` are dropped:
          its default Gamma likelihood needs a positive lift);
        * ``"robyn"``: ``channel, liftStartDate, liftEndDate, liftAbs, spend, confidence, metric,
          calibration_scope`` for Robyn's ``calibration_input`` (confidence = 1 − p, as its
          docs suggest for a frequentist test);
        * ``"tidy"``: all of them plus ``arm, segment``.

        Example::

            rows = abtest.incrementality(users, spend={"gap1d": 224.5}).to_lift_calibration(
                style="pymc", periods=5)          # a 5-week test in a weekly MMM
            mmm.build_model(X, y); mmm.add_lift_test_measurements(rows)
        """
        if metric not in ("conversions", "revenue"):
            raise ValueError(f"metric must be 'conversions' or 'revenue', got {metric!r}")
        if style not in ("tidy", "pymc", "robyn"):
            raise ValueError(f"style must be 'tidy', 'pymc' or 'robyn', got {style!r}")
        if not periods > 0:
            raise ValueError(f"periods must be > 0, got {periods}")
        t = self.table_ if segments else self.table_[self.table_["segment"] == ALL]
        t = t[t["spend"].notna()]
        if t.empty:
            raise ValueError("no arm has a known spend: pass spend= (a column or arm -> spend) "
                             "or ads= to build lift-test rows")
        if metric == "revenue" and t["incremental_revenue"].isna().all():
            raise ValueError("no revenue column was given: pass revenue= to calibrate on revenue")
        est, lo, hi = (("incremental_conversions", "incremental_ci_low", "incremental_ci_high")
                       if metric == "conversions" else
                       ("incremental_revenue", "revenue_ci_low", "revenue_ci_high"))
        q = special.ndtri(1 - (1 - t["ci_level"].to_numpy(dtype=float)) / 2)
        sigma = (t[hi].to_numpy(dtype=float) - t[lo].to_numpy(dtype=float)) / (2 * q)
        delta_y = t[est].to_numpy(dtype=float)
        z = np.abs(delta_y) / np.where(sigma > 0, sigma, np.nan)
        out = pd.DataFrame({
            "channel": self.channel,
            "arm": t["arm"].to_numpy(),
            "segment": t["segment"].to_numpy(),
            "date_start": self.start,
            "date_end": self.end,
            "metric": metric,
            "x": 0.0,
            "delta_x": t["spend"].to_numpy(dtype=float) / periods,
            "delta_y": delta_y / periods,
            "sigma": sigma / periods,
            "confidence": 1 - 2 * special.ndtr(-z),
        })
        if style == "pymc":
            return out.loc[out["delta_y"] > 0,
                           ["channel", "x", "delta_x", "delta_y", "sigma"]].reset_index(drop=True)
        if style == "robyn":
            return pd.DataFrame({
                "channel": out["channel"],
                "liftStartDate": pd.to_datetime(out["date_start"]),
                "liftEndDate": pd.to_datetime(out["date_end"]),
                "liftAbs": out["delta_y"], "spend": out["delta_x"],
                "confidence": out["confidence"], "metric": metric,
                "calibration_scope": "immediate"})
        return out

    def _repr_html_(self) -> str:
        t = self.table_
        cur = self.currency
        shown = pd.DataFrame({
            "arm": t["arm"], "segment": t["segment"], "leads": t["leads"],
            "credited": [format_value(v, "count") for v in t["attributed_conversions"]],
            "caused (incremental)": [
                f"{format_value(v, 'count')} ({format_interval(lo, hi, 'count')})"
                for v, lo, hi in zip(t["incremental_conversions"], t["incremental_ci_low"],
                                     t["incremental_ci_high"], strict=True)],
            "caused ÷ credited": [
                "—" if pd.isna(f) else f"{_pct0(f)} ({_pct_interval(lo, hi)})"
                for f, lo, hi in zip(t["incrementality_factor"], t["factor_ci_low"],
                                     t["factor_ci_high"], strict=True)],
            "effect on the reached": [
                "—" if pd.isna(v) else
                f"{format_value(v, 'signed_points')} ({format_interval(lo, hi, 'signed_points')})"
                for v, lo, hi in zip(t["effect_on_reached"], t["reached_ci_low"],
                                     t["reached_ci_high"], strict=True)],
            "cost per incremental": [
                "—" if pd.isna(v) else (
                    f"no increment (at least {format_value(lo, 'money', currency=cur)})"
                    if math.isinf(v) else f"{format_value(v, 'money', currency=cur)} "
                    f"({format_interval(lo, hi, 'money', currency=cur)})")
                for v, lo, hi in zip(t["cost_per_incremental"], t["cpi_ci_low"],
                                     t["cpi_ci_high"], strict=True)],
            "iROAS": ["—" if pd.isna(v) else _times(v, lo, hi)
                      for v, lo, hi in zip(t["iroas"], t["iroas_ci_low"], t["iroas_ci_high"],
                                           strict=True)],
            "decision": self.decision()["decision"].to_numpy(),
        })
        fam = "; ".join(sorted(set(t["family"])))
        notes = "".join(f"<li>{escape_html(n)}</li>" for n in self.notes)
        return (f"<div class='abtest-incrementality'><p><b>{escape_html(self.headline())}</b></p>"
                f"{frame_html(shown)}<p style='color:#57606a'>Against the holdout "
                f"{escape_html(self.holdout)!s}; intervals at the family's level: "
                f"{escape_html(fam)}.</p>{f'<ul>{notes}</ul>' if notes else ''}</div>")
