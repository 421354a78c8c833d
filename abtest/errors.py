"""Errors and row accounting shared by every loader (and every layer that reads data).

A ``DataError`` is written for the marketer holding the file: it names the file, the row as a
spreadsheet shows it (header = row 1, first data row = row 2), the column, and what was expected.
A ``ReadReport`` says what a loader read, kept and set aside, so no row disappears silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["DataError", "ReadReport", "SetAside", "mask_personal"]

_EMAIL = re.compile(r"([^\s@,;:'\"<>()\[\]{}])[^\s@,;:'\"<>()\[\]{}]*@([^\s@,;:'\"<>()\[\]{}]+\.\w+)")
# A phone number as people write it: "+" and digits, or digit groups split by spaces, dots,
# dashes or brackets. Bare digit strings are left alone: they are IDs and counts far more often.
_PHONE = re.compile(r"(?<![\w.+])(?:\+|00)\d[\d\s().\-/]{5,}\d(?![\w])"
                    r"|(?<![\w.])\(?\d{2,5}\)?[\s.\-]\d{2,5}[\s.\-]\d{2,5}(?:[\s.\-]\d{2,5})?(?![\w.])")


_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def _mask_phone(m: re.Match[str]) -> str:
    text = m.group(0)
    intl = text.startswith(("+", "00"))
    digits = re.sub(r"\D", "", text)
    digits = digits[2:] if text.startswith("00") else digits
    if len(digits) < (7 if intl else 9) or (not intl and _DATE.match(text.lstrip("("))):
        return text
    return ("+" if intl else "") + digits[:2] + "***" + digits[-2:]


def mask_personal(text: object) -> str:
    """``text`` with e-mail addresses and phone numbers masked (``a***@example.com``, ``+44***58``).

    Every message, note and report goes through this, so personal data never leaves a loader
    in the clear, even when it sits in a column where nobody expected it.
    """
    out = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", str(text))
    return _PHONE.sub(_mask_phone, out)


class DataError(ValueError):
    """Bad input, explained: file, spreadsheet row, column and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        row_kind: str = "row",
        expected: str | None = None,
        found: object = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        # JSON inputs count records or lines, not spreadsheet rows: say which.
        self.row_kind = row_kind
        self.column = column
        self.expected = expected
        # what was found is shown to people: personal data in it is masked at the source
        self.found = (mask_personal(found) if isinstance(found, str) else
                      [mask_personal(f) if isinstance(f, str) else f for f in found]
                      if isinstance(found, list | tuple) else found)
        self.reason = mask_personal(message)
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"{self.row_kind} {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = ", ".join(where)
        text = f"{text}: {self.reason}" if text else self.reason
        if self.expected:
            text += f" (expected {self.expected}"
            text += f", found {self.found!r})" if self.found is not None else ")"
        return mask_personal(text)


@dataclass(frozen=True)
class SetAside:
    """Rows a loader did not use, with the reason (e.g. the totals row)."""

    rows: tuple[int, ...]
    reason: str


@dataclass
class ReadReport:
    """What a loader read: rows read, rows kept, rows set aside with reasons, and notes."""

    file: str
    format: str
    rows_read: int = 0
    rows_kept: int = 0
    set_aside: list[SetAside] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_set_aside(self) -> int:
        return sum(len(s.rows) for s in self.set_aside)

    def check_balance(self) -> None:
        """Every input row is either kept or set aside with a reason."""
        if self.rows_read != self.rows_kept + self.rows_set_aside:
            raise AssertionError(
                f"{self.file}: read {self.rows_read} rows but kept {self.rows_kept} and set aside "
                f"{self.rows_set_aside}"
            )

    def to_frame(self) -> pd.DataFrame:
        """One row per set-aside reason, for display in notebooks and reports."""
        return pd.DataFrame(
            [{"reason": s.reason, "rows": len(s.rows), "row_numbers": list(s.rows)} for s in self.set_aside],
            columns=["reason", "rows", "row_numbers"],
        )

    def __str__(self) -> str:
        lines = [
            f"{self.file} ({self.format}): read {self.rows_read} rows, kept {self.rows_kept}, "
            f"set aside {self.rows_set_aside}"
        ]
        for s in self.set_aside:
            shown = ", ".join(map(str, s.rows[:10])) + (" ..." if len(s.rows) > 10 else "")
            lines.append(f"  - {len(s.rows)} row(s) set aside: {s.reason} (rows {shown})")
        lines += [f"  - note: {n}" for n in self.notes]
        return mask_personal("\n".join(lines))

    def mask_notes(self) -> None:
        """Mask personal data in the notes (loaders call this before returning the report)."""
        self.notes[:] = [mask_personal(n) for n in self.notes]
