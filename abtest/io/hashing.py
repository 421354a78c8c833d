"""TikTok normalisation and SHA-256 hashing of e-mail, phone and external_id (vectorised).

TikTok's Events API expects ``email``, ``phone`` and ``external_id`` as SHA-256 hex digests of
normalised values (tiktok-formats.md section 5):

* e-mail: trim surrounding whitespace, lower-case;
* phone: E.164, i.e. ``+`` country code and digits, with spaces, dashes, dots and brackets removed
  (``00`` international prefix -> ``+``). A number without a country code cannot be normalised
  unambiguously, so it is refused rather than guessed;
* external_id: trimmed (kept case-sensitive: ids are opaque).

Values that already are 64-hex digests pass unchanged (lower-cased). Hashing runs inside DuckDB's
vectorised ``sha256()`` over the unique values, not in a Python loop over rows.
"""

from __future__ import annotations

from typing import Literal

import duckdb
import pandas as pd

__all__ = [
    "HEX64",
    "is_hashed",
    "looks_like_email",
    "looks_like_phone",
    "normalise",
    "sha256_hex",
]

HEX64 = r"[0-9a-fA-F]{64}"
_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
_PHONE = r"\+?[\d\s().\-/]{7,}"

Kind = Literal["email", "phone", "external_id"]


def is_hashed(values: pd.Series) -> pd.Series:
    """True where the value already is a SHA-256 hex digest (NA -> False)."""
    return values.astype("string").str.strip().str.fullmatch(HEX64).fillna(False).astype(bool)


def looks_like_email(values: pd.Series) -> pd.Series:
    """True where the value is a raw e-mail address."""
    return values.astype("string").str.strip().str.fullmatch(_EMAIL).fillna(False).astype(bool)


def looks_like_phone(values: pd.Series) -> pd.Series:
    """True where the value is a raw phone number (not a digest)."""
    s = values.astype("string").str.strip()
    return (s.str.fullmatch(_PHONE).fillna(False) & ~is_hashed(s)).astype(bool)


def normalise(values: pd.Series, kind: Kind) -> pd.Series:
    """TikTok normalisation before hashing. Phones that are not E.164-able become NA.

    Callers detect the NA-from-non-NA cases to report them (see ``abtest.io.events``).
    """
    s = values.astype("string").str.strip()
    if kind == "email":
        return s.str.lower()
    if kind == "phone":
        digits = s.str.replace(r"[\s().\-/]", "", regex=True).str.replace(r"^00", "+", regex=True)
        return digits.where(digits.str.fullmatch(r"\+[1-9]\d{6,14}").fillna(False))
    return s


def sha256_hex(values: pd.Series) -> pd.Series:
    """SHA-256 hex digest of each non-NA string (UTF-8), computed by DuckDB over unique values."""
    s = values.astype("string")
    uniq = pd.DataFrame({"v": s.dropna().unique()}).astype({"v": "string"})
    if uniq.empty:
        return pd.Series(pd.NA, index=s.index, dtype="string")
    con = duckdb.connect()
    try:
        con.register("u", uniq)
        hashed = con.execute("SELECT v, sha256(v) AS h FROM u").df()
    finally:
        con.close()
    lookup = pd.Series(hashed["h"].to_numpy(), index=hashed["v"].to_numpy())
    return s.map(lookup).astype("string")
