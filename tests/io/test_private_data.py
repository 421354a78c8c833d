"""Property: no raw e-mail or phone number survives a loader, in any frame, message or report."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from private import assert_private, personal_strings

from abtest.io import DataError, read_ads_manager, read_events, read_marketing_api

_LOCAL = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789._+-", min_size=1, max_size=12)
_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
EMAILS = st.builds(lambda lo, d, t: f"{lo.strip('.') or 'x'}@{d}.{t}", _LOCAL, _LABEL,
                   st.sampled_from(["com", "org", "co.uk", "de", "io"]))
# International numbers as people type them: country code, optional trunk "(0)", groups.
PHONES = st.builds(
    lambda cc, trunk, groups, sep: f"{cc} {'(0)' if trunk else ''}{sep.join(groups)}",
    st.sampled_from(["+1", "+44", "+33", "+49", "+81", "0044"]), st.booleans(),
    st.lists(st.text("0123456789", min_size=3, max_size=4), min_size=2, max_size=3),
    st.sampled_from([" ", "-", "."]))


def _outputs(load) -> tuple:
    try:
        frame, rep = load()
        return frame, rep
    except DataError as err:
        return str(err), err.reason, err.found


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(email=EMAILS, phone=PHONES, other=EMAILS)
def test_personal_data_never_leaves_a_loader(email: str, phone: str, other: str) -> None:
    secrets = personal_strings(" ".join([email, phone, other])) | {email, phone, other}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # events CSV: personal data as user id, e-mail, phone, order id and in a URL
        (folder / "events.csv").write_text(
            "user_id,email,phone,event,timestamp,order_id,url\n"
            f"{email},{other},\"{phone}\",Purchase,2024-06-01T12:00:00Z,\"{phone}\","
            f"https://x.example.com/?e={other}\n"
            f"crm-1,{email},,ViewContent,2024-06-01T12:01:00Z,,\n", encoding="utf-8")
        # events NDJSON: e-mail as external id, phone in user.phone
        (folder / "events.ndjson").write_text(json.dumps({
            "event_source": "web", "event_source_id": "C1", "data": [
                {"event": "Purchase", "event_time": 1717340000, "event_id": "a",
                 "user": {"external_id": email, "phone": phone, "email": other}}]}) + "\n")
        # Ads Manager CSV: e-mail as Ad ID, phone as campaign id, e-mail inside a name
        (folder / "ads.csv").write_text(
            "By Day,Campaign ID,Campaign name,Ad ID,Cost,Impressions,Clicks\n"
            f"2024-06-01,\"{phone}\",RT {other} list,{email},20.00,100,2\n", encoding="utf-8")
        # API page: e-mail as ad id
        (folder / "api.json").write_text(json.dumps({"code": 0, "message": "OK", "data": {
            "list": [{"dimensions": {"ad_id": email, "stat_time_day": "2024-06-01 00:00:00"},
                      "metrics": {"spend": "1.000", "impressions": "10", "clicks": "1",
                                  "campaign_name": f"list {phone}", "currency": "USD"}}]}}))
        # error paths: personal data in a count column, and hash_pii=False
        (folder / "bad_count.csv").write_text(
            "By Day,Ad ID,Cost,Impressions,Clicks\n"
            f"2024-06-01,1,20.00,{email},2\n2024-06-01,2,20.00,\"{phone}\",2\n")
        loads = [
            lambda: read_events(folder / "events.csv", report=True),
            lambda: read_events(folder / "events.ndjson", report=True),
            lambda: read_events(folder / "events.csv", report=True, hash_pii=False),
            lambda: read_ads_manager(folder / "ads.csv", report=True),
            lambda: read_marketing_api(folder / "api.json", report=True),
            lambda: read_ads_manager(folder / "bad_count.csv", report=True),
        ]
        for load in loads:
            assert_private(secrets, *_outputs(load))


def test_masked_values_look_like_the_issue_says() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bad.csv"
        path.write_text("By Day,Ad ID,Cost,Impressions,Clicks\n2024-06-01,1,20.00,"
                        "alice@example.com,2\n")
        with pytest.raises(DataError, match=r"a\*\*\*@example\.com"):
            read_ads_manager(path)
