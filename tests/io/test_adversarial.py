"""Adversarial loader fixtures (issue #12): right values, or a DataError naming where and why."""

from __future__ import annotations

import pytest
from adversarial_cases import CASES, Case
from private import assert_private, personal_strings

from abtest.io import DataError, read_table


def test_enough_distinct_cases() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and len(names) >= 80


def _load(case: Case, path):
    if case.loader is read_table:
        frame = read_table(path)
        return frame, None
    return case.loader(path, report=True, **case.kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_adversarial_file(case: Case, tmp_path) -> None:
    path = case.write(tmp_path)
    content = case.content if isinstance(case.content, str) else (
        case.content.decode("utf-8", "ignore") if isinstance(case.content, bytes) else "")
    secrets = personal_strings(content)
    if case.check is None:
        with pytest.raises(DataError) as info:
            _load(case, path)
        err, message = info.value, str(info.value)
        assert_private(secrets, message, err.found, err.reason)
        assert path.name in message, message
        for needle in case.error:
            assert needle in message, (needle, message)
        assert err.row == case.row, (err.row, case.row, message)
        assert err.column == case.column, (err.column, case.column, message)
        if case.row is not None:
            assert f"{err.row_kind} {case.row}" in message
        if case.column is not None:
            assert f"column '{case.column}'" in message
        return
    frame, rep = _load(case, path)
    # row accounting: every data row of the file is kept or set aside with a reason
    if rep is None:
        assert len(frame) == case.rows
    else:
        assert rep.rows_read == case.rows, str(rep)
        assert rep.rows_read == rep.rows_kept + rep.rows_set_aside == len(frame) + sum(
            len(s.rows) for s in rep.set_aside), str(rep)
        rep.check_balance()
    assert case.check(frame, rep)
    assert_private(secrets, frame, rep)
