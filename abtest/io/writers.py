"""Writers: canonical tables -> the real TikTok formats the readers in ``abtest.io`` read back.

An Ads Manager daily custom-report export (CSV with BOM and CRLF, or XLSX; UI labels, rate
columns, a trailing "Total of N results" row), Marketing API ``report/integrated/get`` pages
(metric values as strings, ``"-"`` for n/a) and Events API 2.0 NDJSON request bodies (formats:
``shared/reference/tiktok-formats.md`` §1.2, §2.3, §5). Column labels come from the one header
table (:mod:`abtest.io.aliases`) the readers use, so whatever is written reads back. Output is
deterministic: the same table always gives the same bytes (the demo data depends on it).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from abtest.io.aliases import api_name, ui_label
from abtest.io.hashing import sha256_hex

__all__ = [
    "ads_manager_frame",
    "events_ndjson",
    "marketing_api_pages",
    "with_rates",
    "write_ads_manager_csv",
    "write_ads_manager_xlsx",
]

_MONEY = ("cost", "conversion_value", "cpc", "cpm", "cost_per_conversion")
_RATES = ("ctr", "cvr", "frequency")
_BATCH = 1000  # Events API 2.0 limit per request
#: dimension columns of the UI export, written as text cells.
_UI_DIMENSIONS = ("campaign", "campaign_id", "ad_group", "ad_group_id", "ad", "ad_id", "date",
                  "currency")


def with_rates(rows: pd.DataFrame) -> pd.DataFrame:
    """Derived rate columns as exports show them (NaN where the denominator is 0)."""
    out = rows.copy()
    imp = out["impressions"].to_numpy(dtype=float)
    clk = out["clicks"].to_numpy(dtype=float)
    conv = out["conversions"].to_numpy(dtype=float)
    cost = out["cost"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ctr"] = np.where(imp > 0, 100 * clk / imp, np.nan)
        out["cpc"] = np.where(clk > 0, cost / clk, np.nan)
        out["cpm"] = np.where(imp > 0, 1000 * cost / imp, np.nan)
        out["frequency"] = np.where(out["reach"] > 0, imp / out["reach"].to_numpy(float), np.nan)
        out["cost_per_conversion"] = np.where(conv > 0, cost / conv, np.nan)
        out["cvr"] = np.where(imp > 0, 100 * conv / imp, np.nan)
    return out


_METRIC_ORDER = ["cost", "impressions", "reach", "frequency", "clicks", "ctr", "cpc", "cpm",
                 "clicks_all", "conversions", "cost_per_conversion", "cvr",
                 "real_time_conversions", "purchases", "conversion_value", "add_to_cart",
                 "landing_page_views", "video_views", "video_watched_2s", "video_watched_6s",
                 "video_views_p25", "video_views_p50", "video_views_p75", "video_views_p100",
                 "likes", "comments", "shares", "follows", "profile_visits"]


def _fmt(values: pd.Series, col: str, *, api: bool) -> pd.Series:
    """Text of one metric column: money 2 dp (API 3 dp), rates 2 dp, counts integers, '-' for n/a."""
    arr = values.to_numpy(dtype=float)
    if col in _MONEY:
        decimals = 3 if api else 2
    elif col in _RATES:
        decimals = 2
    else:
        decimals = 0
    text = np.char.mod(f"%.{decimals}f", np.nan_to_num(arr))
    return pd.Series(np.where(np.isnan(arr), "-", text), index=values.index)


def ads_manager_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The UI export as text cells, plus TikTok's trailing ``Total of N results`` row."""
    data = with_rates(rows)
    out = pd.DataFrame({ui_label(c): data[c] for c in _UI_DIMENSIONS})
    out[ui_label("date")] = data["date"].dt.strftime("%Y-%m-%d")
    for col in _METRIC_ORDER:
        out[ui_label(col)] = _fmt(data[col], col, api=False)
    tot = {c: data[c].sum() for c in _METRIC_ORDER if c in rows.columns and c != "reach"}
    tot_row = pd.DataFrame([{**{c: np.nan for c in _METRIC_ORDER}, **tot}])
    tot_row = with_rates(tot_row.assign(reach=np.nan))
    total = {k: "" for k in out.columns}
    total[ui_label("campaign")] = f"Total of {len(rows)} results"
    for col in _METRIC_ORDER:
        val = tot_row[col] if col not in ("reach", "frequency") else pd.Series([np.nan])
        total[ui_label(col)] = _fmt(val, col, api=False).iloc[0]
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


def write_ads_manager_csv(frame: pd.DataFrame, path: Path) -> None:
    """The :func:`ads_manager_frame` as TikTok's CSV download."""
    # UTF-8 with BOM and CRLF line ends, like the Ads Manager download.
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def write_ads_manager_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """XLSX with numbers as numbers (IDs as text), normalised so reruns are byte-identical."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)  # streaming writer: several times faster for plain tables
    ws = wb.create_sheet("Custom report")
    ws.append(list(frame.columns))
    text_cols = {ui_label(c) for c in _UI_DIMENSIONS}
    cells = []
    for col in frame.columns:
        series = frame[col]
        if col in text_cols:
            cells.append(series.astype(object).tolist())
        else:
            num = pd.to_numeric(series, errors="coerce")
            cells.append([v if pd.isna(n) else (int(n) if float(n).is_integer() else float(n))
                          for v, n in zip(series.tolist(), num.tolist(), strict=True)])
    for row in zip(*cells, strict=True):
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    _normalise_zip(buf.getvalue(), path)


def _normalise_zip(data: bytes, path: Path) -> None:
    """Rewrite an OOXML zip with fixed entry times and document dates (deterministic bytes)."""
    fixed = "2026-01-01T00:00:00Z"
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                                 rb"\g<1>" + fixed.encode() + rb"\g<2>", payload)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, payload)
    path.write_bytes(out.getvalue())


def marketing_api_pages(rows: pd.DataFrame, *, page_size: int) -> list[dict]:
    """Marketing API report/integrated/get responses (AUCTION_AD × stat_time_day), paged."""
    data = with_rates(rows)
    metrics = pd.DataFrame({api_name(c): data[c] for c in ("campaign", "campaign_id", "ad_group",
                                                           "ad_group_id", "ad", "currency")})
    for col in _METRIC_ORDER:
        metrics[api_name(col)] = _fmt(data[col], col, api=True)
    metrics[api_name("cvr_clicks")] = _fmt(
        pd.Series(np.where(data["clicks"] > 0, 100 * data["conversions"] /
                           data["clicks"].where(data["clicks"] > 0, 1), np.nan)), "ctr", api=True)
    metrics["secondary_goal_result"] = "-"
    records = metrics.to_dict(orient="records")
    dims = [{api_name("ad_id"): a, api_name("date"): d} for a, d in zip(
        data["ad_id"].tolist(), data["date"].dt.strftime("%Y-%m-%d 00:00:00").tolist(),
        strict=True)]
    total = len(records)
    n_pages = max(1, -(-total // page_size))
    request_ids = sha256_hex(pd.Series([f"page{p}:{total}" for p in range(n_pages)]))
    pages = []
    for p in range(n_pages):
        chunk = slice(p * page_size, (p + 1) * page_size)
        pages.append({
            "code": 0, "message": "OK",
            "request_id": request_ids.iloc[p][:30].upper(),
            "data": {
                "page_info": {"page": p + 1, "page_size": page_size, "total_number": total,
                              "total_page": n_pages},
                "list": [{"dimensions": d, "metrics": m}
                         for d, m in zip(dims[chunk], records[chunk], strict=True)],
            },
        })
    return pages


def events_ndjson(events: pd.DataFrame, *, currency: str, source: str, source_id: str) -> str:
    """Events API 2.0 request bodies, one per line, <= 1000 events each (strings built by column)."""
    if events.empty:
        return ""
    ev = events.reset_index(drop=True)
    has_value = ~np.isnan(ev["value"].to_numpy(dtype=float))
    props = np.where(
        has_value,
        '{"currency":"' + currency + '","value":'
        + pd.Series(np.char.mod("%.2f", np.nan_to_num(ev["value"].to_numpy(float)))) + ',"order_id":"'
        + ev["event_id"].str.replace("ev_", "order_") + '","content_type":"product"}',
        "",
    )
    user = ('{"external_id":"' + ev["user"].astype(str) + '"'
            + np.where(ev["ttclid"] != "", ',"ttclid":"' + ev["ttclid"].astype(str) + '"', "")
            + "}")
    page = ',"page":{"url":"https://shop.example.com/"}' if source == "web" else ""
    props = np.where(props == "", "", ',"properties":' + pd.Series(props))
    body = ('{"event":"' + ev["event"] + '","event_time":' + ev["time"].astype(str)
            + ',"event_id":"' + ev["event_id"] + '","user":' + user + page + props + "}")
    lines = []
    head = '{"event_source":"' + source + '","event_source_id":"' + source_id + '","data":['
    values = body.tolist()
    for i in range(0, len(values), _BATCH):
        lines.append(head + ",".join(values[i:i + _BATCH]) + "]}")
    return "\n".join(lines) + "\n"


