"""Pixel / Events API logs -> canonical ``events`` (hashed users, UTC times, canonical names).

Accepted inputs (tiktok-formats.md section 5):

* Events API 2.0: an envelope ``{"event_source", "event_source_id", "data": [...]}``, a list of
  envelopes, or NDJSON with one envelope or one single event per line; ``event_time`` in Unix
  seconds (milliseconds are recognised and noted);
* legacy Events API 1.0 pixel payloads: ``pixel_code``, ISO-8601 ``timestamp``, ``context.user``
  (``phone_number``), ``context.ad.callback`` = ttclid; single events or ``batch[]``;
* a flat CSV export (user_id/external_id, email, phone, event, timestamp, value, currency, ...).

User identity: ``user_id`` = hashed external_id, else hashed e-mail, else hashed phone (the most
stable identifier first: an advertiser's own id survives e-mail changes). Raw e-mails and phones
are never kept: with ``hash_pii=True`` they are normalised as TikTok specifies and SHA-256 hashed;
with ``hash_pii=False`` a file holding raw ones is refused. Events are deduplicated on
(event_source_id, canonical event, event_id) as TikTok does; duplicates are set aside and counted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from abtest.errors import DataError, ReadReport, SetAside
from abtest.io._text import decode_text, load_json_documents, read_csv_text
from abtest.io.aliases import EVENT_FIELDS
from abtest.io.checks import check_events, fail_where
from abtest.io.hashing import (
    hash_personal_ids,
    is_hashed,
    looks_like_email,
    normalise,
    sha256_hex,
)
from abtest.io.numbers import (
    MISSING_PATTERN,
    cell_currency,
    currency_agrees,
    parse_ids,
    parse_numbers,
    to_text,
)
from abtest.io.times import parse_timestamps
from abtest.schema import ENGAGEMENT_EVENTS, EVENTS, PIXEL_EVENTS

__all__ = ["EVENT_ALIASES", "canonical_event", "read_events"]


def _key(name: str) -> str:
    return re.sub(r"[\W_]+", "", name).casefold()


#: Old / alternative event names -> canonical (schema.PIXEL_EVENTS / ENGAGEMENT_EVENTS).
EVENT_ALIASES: dict[str, str] = {
    **{_key(e): e for e in PIXEL_EVENTS + ENGAGEMENT_EVENTS},
    "completepayment": "Purchase", "page": "PageView", "pageview": "PageView",
    "form": "SubmitForm", "submitlead": "SubmitForm", "leadformsubmit": "LeadForm",
    "instantformsubmit": "LeadForm", "registration": "CompleteRegistration",
    "checkout": "InitiateCheckout", "order": "PlaceAnOrder", "click": "AdClick",
    "videoplay": "VideoView", "videoplayactions": "VideoView", "videowatched2s": "VideoView2s",
    "videowatched6s": "VideoView6s", "videoviewsp100": "VideoView100",
    "videocompletion": "VideoView100", "videocomplete": "VideoView100",
    "profileview": "ProfileVisit", "follows": "Follow", "likes": "Like", "comments": "Comment",
    "shares": "Share",
}

def canonical_event(names: pd.Series) -> pd.Series:
    """Canonical event names (case/punctuation-insensitive); unknown (custom) names kept as is."""
    keys = names.astype("string").str.replace(r"[\W_]+", "", regex=True).str.casefold()
    return keys.map(pd.Series(EVENT_ALIASES)).astype("string").fillna(names.astype("string"))


def _classify(doc: Any, number: int, out: list, path: str, unit: str) -> None:
    """Append (row number, source, source_id, event dict) for every event in one document."""
    if isinstance(doc, list):
        for item in doc:
            _classify(item, number, out, path, unit)
        return
    if not isinstance(doc, dict):
        raise DataError("unknown JSON structure", file=path, row=number, row_kind=unit,
                        expected="an Events API envelope or event object",
                        found=type(doc).__name__)
    if "data" in doc and not isinstance(doc["data"], list) and (
            "event_source" in doc or "event_source_id" in doc):
        raise DataError("an Events API envelope whose 'data' is not a list of events", file=path,
                        row=number, row_kind=unit, column="data",
                        expected="'data': [{'event': ..., 'event_time': ...}, ...]",
                        found=type(doc["data"]).__name__)
    if isinstance(doc.get("data"), list) and ("event_source" in doc or "event_source_id" in doc):
        out += [(number, doc.get("event_source"), doc.get("event_source_id"), e)
                for e in doc["data"]]
    elif "pixel_code" in doc and isinstance(doc.get("batch"), list):
        out += [(number, "web", doc["pixel_code"], e) for e in doc["batch"]]
    elif "event" in doc:
        source = doc.get("event_source", "web" if "pixel_code" in doc else None)
        out.append((number, source, doc.get("event_source_id", doc.get("pixel_code")), doc))
    elif "code" in doc and doc.get("code") != 0:
        raise DataError(f"the API returned an error: code {doc.get('code')}, message "
                        f"{doc.get('message')!r}", file=path, row=number, row_kind=unit,
                        expected="code 0 (OK)")
    else:
        raise DataError("unknown JSON structure: not an Events API 2.0 envelope, a 1.0 pixel "
                        "payload, or an event", file=path, row=number, row_kind=unit,
                        expected="'data': [...] with 'event_source_id', or 'pixel_code' + "
                        "'event'", found=list(doc)[:8])


def _first_of_lists(s: pd.Series) -> pd.Series:
    """Events API allows arrays of hashes: keep the first element (vectorised explode)."""
    if s.dtype != object:
        return s
    return s.explode().groupby(level=0).first().reindex(s.index)


def _from_json(path: Path) -> tuple[pd.DataFrame, pd.Series, str, str, list[str]]:
    docs, unit = load_json_documents(path)
    found: list = []
    for number, doc in docs:
        _classify(doc, number, found, str(path), unit)
    if not found:
        raise DataError("no events in the file (empty data[])", file=path,
                        expected="at least one event")
    bad = next((i for i, f in enumerate(found, 1) if not isinstance(f[3], dict)), None)
    if bad is not None:
        raise DataError("an event is not a JSON object", file=path, row=bad, row_kind="event",
                        expected="{'event': ..., 'event_time': ...}")
    flat = pd.json_normalize([f[3] for f in found])
    flat["_source"] = [f[1] for f in found]
    flat["_source_id"] = [f[2] for f in found]
    # NDJSON: cite the line; one JSON document: cite the event's position (1-based).
    rows = pd.Series([f[0] for f in found]) if unit == "line" else pd.Series(range(1, len(found) + 1))
    kind = "line" if unit == "line" else "event"
    fmt = "events_api_1.0" if "pixel_code" in flat or "context.user.email" in flat else "events_api"
    return flat, rows, kind, fmt, []


_ID_FIELDS = ("campaign_id", "ad_group_id", "ad_id")


def _pick(flat: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    lower = {re.sub(r"[\s\-]+", "_", str(c).strip().casefold()): c for c in flat.columns}
    cols, origin = {}, {}
    for field, candidates in EVENT_FIELDS.items():
        src = next((lower[c] for c in candidates if c in lower), None)
        if src is not None:
            cols[field] = _first_of_lists(flat[src])
            origin[field] = str(src)
    picked = pd.DataFrame(cols, index=flat.index)
    for field in EVENT_FIELDS:
        if field not in picked:
            picked[field] = pd.Series(pd.NA, index=flat.index, dtype="string")
    text = pd.DataFrame({c: to_text(picked[c], whole_floats=c not in _ID_FIELDS)
                         for c in picked.columns})
    missing = text.apply(lambda s: s.str.fullmatch(MISSING_PATTERN, case=False)).fillna(True)
    return text.mask(missing.astype(bool)), origin


def _hash_ids(text: pd.DataFrame, origin: dict, *, hash_pii: bool, kw: dict,
              notes: list[str]) -> pd.Series:
    hashed: dict[str, pd.Series] = {}
    for field in ("external_id", "email", "phone"):
        s = text[field]
        col = origin.get(field, field)
        raw = s.notna() & ~is_hashed(s)
        if field != "external_id" and not hash_pii:
            what = "e-mail address" if field == "email" else "phone number"
            fail_where(raw, f"raw {what} (personal data) in a file read with hash_pii=False; "
                       "hash it first or read with hash_pii=True", column=col,
                       expected="a SHA-256 hex digest", found=pd.Series("<hidden>", index=s.index),
                       **kw)
        if field == "email":
            fail_where(raw & ~looks_like_email(s), "not an e-mail address", column=col,
                       expected="name@domain or its SHA-256 digest", **kw)
        personal = pd.Series(False, index=s.index)
        if field == "external_id":
            # an e-mail or phone number used as the user id is personal data all the same
            personal_hashed, personal = hash_personal_ids(s, column=col, notes=notes,
                                                          hash_pii=hash_pii)
            fail_where(personal & (not hash_pii), "e-mail address or phone number (personal "
                       "data) in the user id column of a file read with hash_pii=False; hash "
                       "it first or read with hash_pii=True", column=col,
                       expected="an opaque id or a SHA-256 hex digest", **kw)
            raw &= ~personal
        norm = normalise(s.where(raw), field)
        if field == "phone":
            fail_where(raw & norm.isna(), "phone number not in E.164 form (country code missing?)",
                       column=col, expected="+ country code and number (E.164)", **kw)
        if field == "external_id" and not hash_pii:
            done = s
            if raw.any():
                notes.append("external ids kept unhashed (hash_pii=False)")
        else:
            done = s.where(~raw, sha256_hex(norm))
            done = done.where(~personal, personal_hashed) if personal.any() else done
            if raw.any():
                notes.append(f"{int(raw.sum())} raw {field} value(s) normalised and SHA-256 hashed")
        hashed[field] = done.str.lower() if field != "external_id" or hash_pii else done
        hashed[field] = hashed[field].where(~is_hashed(done), done.str.lower())
    return hashed["external_id"].fillna(hashed["email"]).fillna(hashed["phone"])


def _finish(flat: pd.DataFrame, rows: pd.Series, *, file: Path, fmt: str, row_kind: str,
            hash_pii: bool, notes: list[str]) -> tuple[pd.DataFrame, ReadReport]:
    rep = ReadReport(file=str(file), format=fmt, rows_read=len(flat), notes=notes)
    rows = rows.reset_index(drop=True)
    text, origin = _pick(flat.reset_index(drop=True))
    for field, label in (("event_raw", "event"), ("time_raw", "event_time")):
        if field not in origin:
            raise DataError(f"missing required column '{label}'", file=file, column=label,
                            expected=f"one of {', '.join(EVENT_FIELDS[field])}",
                            found=list(map(str, flat.columns))[:12])
    if not {"external_id", "email", "phone"} & set(origin):
        raise DataError("no user identifier column", file=file, column="user_id",
                        expected="external_id / user_id, email or phone",
                        found=list(map(str, flat.columns))[:12])
    kw = {"file": file, "rows": rows, "row_kind": row_kind}
    fail_where(text["event_raw"].isna(), "missing event name", column=origin["event_raw"],
               expected="an event name such as Purchase", **kw)
    out = pd.DataFrame(index=text.index)
    out["timestamp"] = parse_timestamps(text["time_raw"], column=origin["time_raw"],
                                        notes=rep.notes, **kw)
    out["event_raw"] = _masked(text["event_raw"], origin["event_raw"], rep.notes)
    out["event"] = canonical_event(text["event_raw"])
    custom = sorted(set(out.loc[~out["event"].isin(list(EVENT_ALIASES.values())), "event"]))
    if custom:
        rep.notes.append(f"custom (non-standard) event names kept as is: {', '.join(custom)}")
    out["user_id"] = _hash_ids(text, origin, hash_pii=hash_pii, kw=kw, notes=rep.notes)
    value_col = origin.get("value", "value")
    out["value"] = parse_numbers(text["value"], kind="money", column=value_col, **kw)
    out["currency"] = _event_currency(text, origin, value_col, kw=kw, notes=rep.notes)
    for col in ("event_id", "order_id", "campaign_id", "ad_group_id", "ad_id", "ttclid"):
        label = origin.get(col, col)
        ids, personal = hash_personal_ids(text[col], column=label, notes=rep.notes,
                                          hash_pii=hash_pii)
        fail_where(personal & (not hash_pii), "e-mail address or phone number (personal data) "
                   "in an id column of a file read with hash_pii=False", column=label,
                   expected="an id without personal data", **kw)
        out[col] = parse_ids(ids, column=label, **kw) if col.endswith("_id") and col in (
            "campaign_id", "ad_group_id", "ad_id") else ids
    out["source"] = _masked(text["source"], origin.get("source", "source"), rep.notes)
    from_url = text["url"].str.extract(r"[?&]ttclid=([^&#]+)")[0]
    out["ttclid"] = out["ttclid"].fillna(_masked(from_url, origin.get("url", "url"), rep.notes))
    source_id = text["source_id"]

    no_user = out["user_id"].isna().to_numpy()
    dup = (out[["event", "event_id"]].assign(sid=source_id).duplicated(keep="first")
           & out["event_id"].notna()).to_numpy() & ~no_user
    if no_user.any():
        rep.set_aside.append(SetAside(tuple(rows[no_user].tolist()),
                                      "no user identifier (external_id, email or phone)"))
    if dup.any():
        rep.set_aside.append(SetAside(tuple(rows[dup].tolist()),
                                      "duplicate event (same event_source_id, event, event_id)"))
    keep = ~(no_user | dup)
    frame = EVENTS.conform(out[keep])[EVENTS.names].reset_index(drop=True)
    kept_rows = rows[keep].reset_index(drop=True)
    check_events(frame, file=file, rows=kept_rows, row_kind=row_kind,
                 require_hashed_ids=hash_pii)
    rep.rows_kept = len(frame)
    rep.check_balance()
    rep.mask_notes()
    return frame, rep


_PERSONAL = r"[^@\s/?&=]+@[^@\s/?&=]+\.\w+|(?:\+|(?<!\d)00)\d[\d\s().\-]{6,}\d"


def _masked(values: pd.Series, column: str, notes: list[str]) -> pd.Series:
    """Free text (event names, sources, URL parts) with e-mails / phones masked, noted."""
    personal = values.str.contains(_PERSONAL, regex=True).fillna(False)
    if not personal.any():
        return values
    notes.append(f"{int(personal.sum())} value(s) in '{column}' held an e-mail or phone "
                 "number: masked")
    return values.where(~personal, values.str.replace(_PERSONAL, "***", regex=True))


def _event_currency(text: pd.DataFrame, origin: dict, value_col: str, *, kw: dict,
                    notes: list[str]) -> pd.Series:
    """Each event's currency code; a value whose own symbol or code contradicts it is refused."""
    label = origin.get("currency", "currency")
    cur = text["currency"].str.strip().str.upper()
    fail_where(cur.notna() & ~cur.str.fullmatch(r"[A-Z]{3}").fillna(False), "not a currency code",
               column=label, expected="an ISO 4217 code such as USD", found=cur, **kw)
    cells = cell_currency(text["value"])
    clash = ~currency_agrees(cells, cur)
    if clash.any():
        fail_where(clash, f"the value says {cells[clash].iloc[0]} but the event's currency is "
                   f"{cur[clash].iloc[0]}", column=value_col,
                   expected=f"a value in {cur[clash].iloc[0]}", found=text["value"], **kw)
    codes = cells.where(cells.str.len() == 3)
    cur = cur.fillna(codes)
    valued = text["value"].notna() & cur.isna()
    if valued.any():
        notes.append(f"{int(valued.sum())} event value(s) without a currency: they cannot be "
                     "summed with other currencies")
    if cur.dropna().nunique() > 1:
        notes.append(f"event values in {cur.dropna().nunique()} currencies "
                     f"({', '.join(sorted(cur.dropna().unique()))}): sum them per currency")
    return cur


def read_events(
    path: str | Path,
    *,
    report: bool = False,
    hash_pii: bool = True,
) -> pd.DataFrame | tuple[pd.DataFrame, ReadReport]:
    """Read Events API 2.0 / 1.0 JSON or NDJSON, or a flat CSV, into canonical ``events``.

    Errors cite spreadsheet rows for CSV, lines for NDJSON, and the 1-based event position for a
    single JSON document (the message says which). With ``report=True`` returns
    ``(frame, ReadReport)``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        raw = read_csv_text(decode_text(path), path)
        if len(raw) == 0:
            raise DataError("no data rows (only a header)", file=path,
                            expected="at least one event row")
        blank = raw.fillna("").eq("").all(axis=1).to_numpy()
        rows = pd.Series(np.arange(2, len(raw) + 2))
        frame, rep = _finish(raw[~blank], rows[~blank], file=path, fmt="events_csv",
                             row_kind="row", hash_pii=hash_pii, notes=[])
        if blank.any():
            rep.rows_read += int(blank.sum())
            rep.set_aside.append(SetAside(tuple(rows[blank].tolist()), "blank row"))
            rep.check_balance()
    elif suffix in (".json", ".jsonl", ".ndjson"):
        flat, rows, kind, fmt, notes = _from_json(path)
        frame, rep = _finish(flat, rows, file=path, fmt=fmt, row_kind=kind, hash_pii=hash_pii,
                             notes=notes)
    else:
        raise DataError(f"unsupported file type {suffix!r}", file=path,
                        expected="an events file saved as .json, .ndjson/.jsonl or .csv")
    return (frame, rep) if report else frame
