"""Experiment arms: from a naming convention, an explicit mapping file, and per user.

Marketers encode the test design in names (``RT_ATC_10off_ShopNow`` = segment ATC, offer 10off,
CTA ShopNow). :func:`parse_names` turns a pattern such as ``RT_{segment}_{offer}_{cta}`` into one
anchored regex with named groups and extracts every field with one vectorised ``str.extract``.
A field matches anything except the separator characters written in the pattern, so a name with
an extra separator does not match (and is reported) instead of shifting fields silently.
:func:`apply_mapping` reads an explicit key -> arm table (CSV/YAML/dict); :func:`assignments`
gives each user the arm of the first ad they interacted with (canonical ``assignments``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from abtest.io.errors import DataError, ReadReport, SetAside
from abtest.schema import ASSIGNMENTS

__all__ = ["apply_mapping", "assignments", "pattern_regex", "parse_names", "read_mapping"]

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def pattern_regex(pattern: str, *, field_patterns: Mapping[str, str] | None = None) -> str:
    """``RT_{segment}_{offer}`` -> ``^RT_(?P<segment>[^_]+)_(?P<offer>[^_]+)$``."""
    fields = _FIELD.findall(pattern)
    if not fields:
        raise ValueError(f"pattern {pattern!r} has no {{field}}")
    if len(set(fields)) != len(fields):
        raise ValueError(f"pattern {pattern!r} repeats a field")
    literals = _FIELD.split(pattern)[::2]
    seps = sorted({ch for lit in literals for ch in lit if not ch.isalnum()})
    default = f"[^{re.escape(''.join(seps))}]+" if seps else ".+?"
    field_patterns = dict(field_patterns or {})
    out, pos = "^", 0
    for m in _FIELD.finditer(pattern):
        out += re.escape(pattern[pos:m.start()])
        out += f"(?P<{m[1]}>{field_patterns.get(m[1], default)})"
        pos = m.end()
    return out + re.escape(pattern[pos:]) + "$"


def parse_names(
    frame: pd.DataFrame,
    pattern: str = "RT_{segment}_{offer}_{cta}",
    column: str = "ad_group",
    *,
    unmatched: Literal["raise", "set_aside"] = "raise",
    field_patterns: Mapping[str, str] | None = None,
    case: bool = True,
) -> pd.DataFrame | tuple[pd.DataFrame, ReadReport]:
    """Add the pattern's fields as string columns, parsed from ``frame[column]``.

    Unmatched names raise DataError listing them with their rows (frame position + 2, i.e. the
    spreadsheet row if the frame was read from one), unless ``unmatched="set_aside"``: then the
    matching rows and a ReadReport listing the rest are returned.
    """
    if column not in frame:
        raise DataError(f"no column {column!r} to parse arm names from", column=column,
                        expected=f"one of {list(frame.columns)}")
    regex = pattern_regex(pattern, field_patterns=field_patterns)
    names = frame[column].astype("string")
    fields = names.str.extract(regex, flags=0 if case else re.IGNORECASE).astype("string")
    bad = fields.isna().all(axis=1).to_numpy()
    rows = (pd.RangeIndex(len(frame)) + 2)[bad].tolist()
    rep = ReadReport(file=f"<{column} names>", format="naming_convention",
                     rows_read=len(frame), rows_kept=int((~bad).sum()))
    if bad.any():
        listed = sorted(set(names[bad].fillna("<missing>").tolist()))
        if unmatched == "raise":
            raise DataError(
                f"{int(bad.sum())} name(s) do not match {pattern!r}: "
                + ", ".join(repr(n) for n in listed[:20]) + (" ..." if len(listed) > 20 else ""),
                row=rows[0], column=column, expected=f"names like {pattern}",
                found=listed[:20])
        rep.set_aside.append(SetAside(tuple(rows), f"name does not match {pattern!r}: "
                                      + ", ".join(listed[:20])))
    out = pd.concat([frame.reset_index(drop=True), fields.reset_index(drop=True)], axis=1)
    if unmatched == "raise":
        return out
    rep.check_balance()
    return out[~bad].reset_index(drop=True), rep


def read_mapping(mapping: str | Path | Mapping, *, on: str = "ad_id",
                 arm_column: str = "arm") -> pd.Series:
    """Key -> arm as a string Series indexed by key (as strings).

    CSV: a key column (named ``on`` or the first column) and an ``arm`` column. YAML or dict:
    either ``{key: arm}`` or ``{arm: [key, ...]}``.
    """
    file = None
    if isinstance(mapping, str | Path):
        file = Path(mapping)
        if not file.is_file():
            raise DataError("mapping file not found", file=file)
        if file.suffix.lower() in (".yml", ".yaml"):
            try:
                mapping = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise DataError(f"not valid YAML: {exc}", file=file) from None
        else:
            table = pd.read_csv(file, dtype="string", keep_default_na=False)
            key = on if on in table else table.columns[0]
            if arm_column not in table:
                raise DataError("mapping has no arm column", file=file, column=arm_column,
                                expected=f"columns {key!r} and {arm_column!r}",
                                found=list(table.columns))
            dup = table[key].duplicated()
            if dup.any():
                raise DataError("key listed twice in the mapping", file=file,
                                row=int(dup.to_numpy().nonzero()[0][0]) + 2, column=key)
            return pd.Series(table[arm_column].to_numpy(), index=table[key].to_numpy(),
                             dtype="string")
    if not isinstance(mapping, Mapping):
        raise DataError("mapping must be a key -> arm table", file=file,
                        expected="{key: arm} or {arm: [keys]}", found=type(mapping).__name__)
    if mapping and all(isinstance(v, list | tuple) for v in mapping.values()):
        pairs = [(str(k), str(arm)) for arm, keys in mapping.items() for k in keys]
    else:
        pairs = [(str(k), str(v)) for k, v in mapping.items()]
    s = pd.Series([a for _, a in pairs], index=[k for k, _ in pairs], dtype="string")
    if s.index.duplicated().any():
        raise DataError(f"key listed twice in the mapping: {s.index[s.index.duplicated()][0]!r}",
                        file=file)
    return s


def apply_mapping(
    frame: pd.DataFrame,
    mapping: str | Path | Mapping,
    on: str = "ad_id",
    *,
    arm_column: str = "arm",
    unmatched: Literal["raise", "keep"] = "raise",
) -> pd.DataFrame:
    """Add ``arm_column`` by looking ``frame[on]`` up in an explicit mapping."""
    if on not in frame:
        raise DataError(f"no column {on!r} to map arms on", column=on)
    arms = read_mapping(mapping, on=on, arm_column=arm_column)
    keys = frame[on].astype("string")
    arm = keys.map(arms).astype("string")
    bad = (arm.isna() & keys.notna()).to_numpy()
    if bad.any() and unmatched == "raise":
        listed = sorted(set(keys[bad].tolist()))
        raise DataError(f"{len(listed)} {on} value(s) not in the mapping: "
                        + ", ".join(map(repr, listed[:20])),
                        row=int(bad.nonzero()[0][0]) + 2, column=on,
                        expected="every key listed in the mapping", found=listed[:20])
    return frame.assign(**{arm_column: arm})


def assignments(
    events: pd.DataFrame,
    arm_of: pd.Series | Mapping | str | Path,
    *,
    on: Literal["ad_id", "ad_group_id", "campaign_id"] = "ad_id",
    segments: pd.DataFrame | None = None,
    conflicts: Literal["raise", "first"] = "first",
) -> tuple[pd.DataFrame, ReadReport]:
    """Users -> arms: each user gets the arm of the first event carrying a mapped ``on`` key.

    ``arm_of`` maps ``on`` keys to arms (Series, dict, or mapping file). Users whose events touch
    several arms are *contaminated*: ``conflicts="first"`` keeps the first arm and counts them in
    the report; ``"raise"`` refuses. ``segments`` (user_id, segment) is joined when given.
    Returns canonical ``assignments`` and a report (rows = users).
    """
    arms = arm_of if isinstance(arm_of, pd.Series) else read_mapping(arm_of, on=on)
    ev = events.loc[events[on].notna(), ["user_id", "timestamp", on]].copy()
    ev["arm"] = ev[on].astype("string").map(arms).astype("string")
    ev = ev[ev["arm"].notna()].sort_values(["user_id", "timestamp"], kind="stable")
    n_arms = ev.groupby("user_id")["arm"].nunique()
    mixed = n_arms[n_arms > 1].index
    if len(mixed) and conflicts == "raise":
        raise DataError(f"{len(mixed)} user(s) saw ads from more than one arm", column=on,
                        expected="each user exposed to one arm", found=list(mixed[:5]))
    first = ev.groupby("user_id", sort=True).first().reset_index()
    out = first.rename(columns={"timestamp": "entry_time"})[["user_id", "arm", "entry_time"]]
    if segments is not None:
        out = out.merge(segments[["user_id", "segment"]], on="user_id", how="left")
    rep = ReadReport(file="<events>", format="assignments",
                     rows_read=int(events["user_id"].nunique()), rows_kept=len(out))
    unassigned = sorted(set(events["user_id"].dropna()) - set(out["user_id"]))
    if unassigned:
        rep.set_aside.append(SetAside(tuple(range(len(unassigned))),
                                      f"user without an event on a mapped {on}"))
    if len(mixed):
        rep.notes.append(f"{len(mixed)} user(s) saw more than one arm; kept their first arm")
    rep.check_balance()
    return ASSIGNMENTS.conform(out)[ASSIGNMENTS.names], rep
