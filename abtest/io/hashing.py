"""TikTok normalisation and SHA-256 hashing of e-mail, phone and external_id (vectorised).

TikTok's Events API expects ``email``, ``phone`` and ``external_id`` as SHA-256 hex digests of
normalised values (tiktok-formats.md section 5):

* e-mail: trim surrounding whitespace, lower-case;
* phone: E.164, i.e. ``+`` country code and digits, parsed by Google's ``phonenumbers`` (the
  library behind Android's dialler): spaces, dashes, dots and brackets removed, ``00`` -> ``+``,
  and the national trunk prefix dropped as TikTok does (``+44 (0)20 7946 0958`` ->
  ``+442079460958``). A number without a country code cannot be normalised unambiguously, so it
  is refused rather than guessed;
* external_id: trimmed (kept case-sensitive: ids are opaque).

Values that already are 64-hex digests pass unchanged (lower-cased). Hashing runs inside DuckDB's
vectorised ``sha256()`` over the unique values, not in a Python loop over rows; it is the one
SHA-256 helper of the package (the simulator's hashed user ids use it too).
:func:`hash_personal_ids` finds e-mails and phone numbers in *any* id column and hashes them.
"""

from __future__ import annotations

from typing import Literal

import duckdb
import pandas as pd
import phonenumbers

__all__ = [
    "HEX64",
    "e164",
    "hash_personal_ids",
    "is_hashed",
    "looks_like_email",
    "looks_like_phone",
    "mask_values",
    "normalise",
    "sha256_hex",
]

HEX64 = r"[0-9a-fA-F]{64}"
_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
_PHONE = r"\+?[\d\s().\-/]{7,}"
# What a phone number in an *id* column looks like: international form, or digit groups. A bare
# run of digits there is an id (TikTok ids are 16-19 digits), not a phone.
_ID_PHONE = r"(?:\+|00)[1-9][\d\s().\-/]{6,}|\(?\d{2,5}\)?[\s.\-]\d{2,5}[\s.\-]\d{2,5}(?:[\s.\-]\d{1,5})?"

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
        return e164(s)
    return s


def _e164_one(text: str) -> str | None:
    text = text.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def e164(values: pd.Series) -> pd.Series:
    """E.164 form of each phone number (NA when it has no country code or cannot be a number).

    Parsed once per distinct value with ``phonenumbers``, which drops national trunk prefixes
    (UK ``(0)20`` -> ``20``) exactly as TikTok's normalisation does.
    """
    s = values.astype("string")
    uniq = s.dropna().unique()
    lookup = pd.Series([_e164_one(v) for v in uniq], index=uniq, dtype="string")
    return s.map(lookup).astype("string")


def mask_values(values: pd.Series) -> pd.Series:
    """``a***@example.com`` / ``+44***58`` for each value: what messages may show of personal data."""
    s = values.astype("string")
    email = s.str.replace(r"^\s*([^@\s])[^@]*@(.*)$", r"\1***@\2", regex=True)
    digits = s.str.replace(r"\D", "", regex=True)
    phone = (s.str.strip().str.startswith("+").map({True: "+", False: ""}).astype("string")
             + digits.str.slice(0, 2) + "***" + digits.str.slice(-2))
    return email.where(s.str.contains("@", regex=False).fillna(False), phone)


def hash_personal_ids(
    values: pd.Series, *, column: str, notes: list[str], hash_pii: bool = True,
) -> tuple[pd.Series, pd.Series]:
    """E-mails and phone numbers found in an id column, hashed as TikTok normalises them.

    Returns ``(ids with personal values replaced by their SHA-256, mask of the replaced cells)``.
    With ``hash_pii=False`` nothing is replaced: the caller refuses the file using the mask.
    """
    s = values.astype("string").str.strip()
    email = looks_like_email(s)
    phone = s.str.fullmatch(_ID_PHONE).fillna(False).astype(bool) & ~email & ~is_hashed(s)
    found = email | phone
    if not found.any() or not hash_pii:
        return values, found
    normal = normalise(s.where(email), "email").fillna(e164(s.where(phone)))
    # A phone without a country code has no TikTok form; hash its digits so it stays private
    # (it then matches nothing on TikTok's side, which the note says).
    digits = s.where(phone & normal.isna()).str.replace(r"\D", "", regex=True)
    normal = normal.fillna(digits)
    out = values.astype("string").where(~found, sha256_hex(normal))
    what = []
    if email.any():
        what.append(f"{int(email.sum())} e-mail address(es)")
    if phone.any():
        what.append(f"{int(phone.sum())} phone number(s)")
    notes.append(f"{' and '.join(what)} found in id column '{column}': normalised and SHA-256 "
                 "hashed (personal data is never kept in the clear)")
    if digits.notna().any():
        notes.append(f"{int(digits.notna().sum())} phone number(s) in '{column}' without a "
                     "country code were hashed as digits: they will not match TikTok's hashes")
    return out, found


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
