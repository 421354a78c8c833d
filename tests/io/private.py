"""Helpers for the private-data tests: find personal strings in a fixture, assert none leak."""

from __future__ import annotations

import re

import pandas as pd

from abtest.io.hashing import e164

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w.])(?:\+|00)\d[\d ().\-]{6,}\d(?!\w)")


def personal_strings(text: str) -> set[str]:
    """Raw e-mails and phone numbers in ``text``, with their normalised forms (also personal)."""
    emails = {m.strip() for m in _EMAIL.findall(text)}
    phones = {m.strip() for m in _PHONE.findall(text)}
    normal = set(e164(pd.Series(sorted(phones), dtype="string")).dropna()) if phones else set()
    return emails | {e.lower() for e in emails} | phones | normal


def assert_private(secrets: set[str], *outputs: object) -> None:
    """No secret appears in any output (frames are searched cell by cell, as text)."""
    texts = []
    for out in outputs:
        if isinstance(out, pd.DataFrame):
            texts.append(out.astype("string").fillna("").to_csv(index=False))
        elif out is not None:
            texts.append(str(out))
            texts += [str(n) for n in getattr(out, "notes", [])]
    blob = "\n".join(texts)
    leaked = sorted(s for s in secrets if s in blob)
    assert not leaked, f"personal data leaked: {leaked}"
