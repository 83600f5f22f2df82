"""The charts page, its CSV and its sync endpoint, through the URLs."""

import csv
import io
import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from dashboard import chart_display, charts, sync
from dashboard.models import CallRecord, CallStats, SyncState
from tests.conftest import make_credential

pytestmark = pytest.mark.django_db

DATA = re.compile(r'<script id="charts-data" type="application/json">(.*?)</script>', re.S)


@pytest.fixture(autouse=True)
def _sync_in_this_thread(settings):
    # Worker threads have their own connections and cannot see the test's transaction.
    settings.SYNC_PARALLELISM = 1


@pytest.fixture
def client(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def chart_url(account=None, start=None, end=None, name="charts"):
    params = []
    if account is not None:
        params.append(f"account={account.pk}")
    if start is not None:
        params.append(f"date_from={start}&date_to={end}")
    return reverse(name) + ("?" + "&".join(params) if params else "")


def charts_data(response) -> dict:
    return json.loads(DATA.search(response.content.decode()).group(1))


def post_sync(client, account, days):
    return client.post(reverse("charts-sync"),
                       {"account": account.pk, "day": [str(day) for day in days]})


def test_it_requires_login(account, yesterday):
    for response in (Client().get(reverse("charts")),
                     Client().get(reverse("charts-export-csv")),
                     Client().post(reverse("charts-sync"),
                                   {"account": account.pk, "day": [str(yesterday)]})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert not SyncState.objects.exists()


def test_it_shows_the_last_30_days_ending_yesterday_by_default(client, account, yesterday):
    response = client.get(reverse("charts"))
    assert response.status_code == 200
    page = response.context["page"]
    assert (page.start, page.end) == (yesterday - timedelta(days=29), yesterday)
    data = charts_data(response)
    assert len(data["days"]) == 30 and data["days"][-1] == str(yesterday)
    assert data["calls"] == [None] * 30  # nothing stored: gaps, not zeros
    # Nothing is fetched on GET; both periods are handed to the browser instead.
    assert not SyncState.objects.exists()
    assert len(data["sync"]["days"]) == 60 and data["sync"]["batch"] == 3
    assert data["urls"] == {"sync": reverse("charts-sync"), "calls": reverse("calls")}
    assert b'id="sync-progress"' in response.content and b"<progress" in response.content


def test_it_has_no_inline_script_or_style(client, account, yesterday):
    sync.sync_days(accounts=[account], days=[yesterday])
    html = client.get(chart_url(account, yesterday, yesterday)).content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert " src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "vendor/chartjs-4.6.1/chart.umd.min.js" in html and "js/charts.js" in html


def test_it_draws_stored_days_and_links_each_day_to_its_calls(client, account, yesterday):
    start = yesterday - timedelta(days=2)
    sync.sync_days(accounts=[account], days=[start, yesterday])
    response = client.get(chart_url(account, start, yesterday))
    data = charts_data(response)
    assert data["calls"][0] == CallRecord.objects.filter(day=start).count()
    assert data["calls"][1] is None
    html = response.content.decode()
    for day in (start, yesterday):
        assert (f'href="/calls/?account={account.pk}&amp;date_from={day}&amp;date_to={day}"'
                in html)
    assert 'id="chart-daily-calls"' in html and 'id="chart-hours"' in html


def test_it_keeps_the_account_in_quick_range_and_export_links(client, user, sim, yesterday):
    credential = make_credential(user, sim.base_url, accounts=(1, 2))
    second = credential.accounts.get(account_id=2)
    response = client.get(chart_url(second))
    html = unescape(response.content.decode())
    ranges = charts.quick_ranges(timezone.localdate())
    for quick in ranges:
        assert (f"/charts/?account={second.pk}&date_from={quick.start}&date_to={quick.end}"
                in html)
    start = yesterday - timedelta(days=29)
    assert f"/charts/export.csv?account={second.pk}&date_from={start}&date_to={yesterday}" in html
    assert response.context["account"] == second


def test_it_refuses_another_users_account(client, other_user, sim, yesterday):
    theirs = make_credential(other_user, sim.base_url).accounts.get()
    assert client.get(chart_url(theirs)).status_code == 404
    assert client.get(chart_url(theirs, name="charts-export-csv")).status_code == 404
    response = post_sync(client, theirs, [yesterday])
    assert response.status_code == 404
    assert not SyncState.objects.exists() and not CallRecord.objects.exists()
    assert sim.request_count() == 0


@pytest.mark.parametrize("query, field", [
    ("date_from=2024-02-30&date_to=2024-03-01", "date_from"),
    ("date_from=yesterday&date_to=2024-03-01", "date_from"),
    ("date_from=2023-01-01&date_to=2024-01-02", "date_to"),  # 367 days; 366 is the most
    ("date_from=2024-03-02&date_to=2024-03-01", "date_to"),
    ("date_from=1999-12-31&date_to=2000-01-05", "date_from"),
    ("date_from=2024-03-01&date_to=9999-12-31", "date_to"),
    ("date_from=2024-03-01", "date_to"),
])
def test_it_shows_bad_dates_as_form_errors(client, account, query, field):
    response = client.get(f"{reverse('charts')}?account={account.pk}&{query}")
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["page"] is None
    assert b"charts-data" not in response.content
    assert b'class="errorlist' in response.content


def test_it_accepts_a_whole_leap_year(client, account):
    response = client.get(f"{reverse('charts')}?account={account.pk}"
                          "&date_from=2024-01-01&date_to=2024-12-31")
    assert response.status_code == 200 and len(response.context["page"].rows) == 366


def test_it_redirects_a_bad_export_back_to_the_form(client, account):
    response = client.get(f"{reverse('charts-export-csv')}?account={account.pk}"
                          "&date_from=2024-03-02&date_to=2024-03-01")
    assert response.status_code == 302 and response["Location"].startswith(reverse("charts"))


def test_it_exports_the_daily_table_as_the_charts_show_it(client, account, yesterday):
    start = yesterday - timedelta(days=3)
    sync.sync_days(accounts=[account], days=[start, start + timedelta(days=1), yesterday])
    response = client.get(chart_url(account, start, yesterday))
    data, page = charts_data(response), response.context["page"]

    export = client.get(chart_url(account, start, yesterday, name="charts-export-csv"))
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    assert f"daily-{account.pk}-{start}-{yesterday}.csv" in export["Content-Disposition"]
    text = export.content.decode("utf-8")
    assert text.startswith("\ufeff")
    _header, *rows = list(csv.reader(io.StringIO(text[1:])))
    assert [row[0] for row in rows] == data["days"]
    assert [int(row[1]) if row[1] else None for row in rows] == data["calls"]
    assert [int(row[2]) if row[2] else None for row in rows] == data["answered"]
    assert [row[7] or None for row in rows] == data["fees"]
    assert [float(row[4]) if row[4] else None for row in rows] == data["answer_rate"]

    html = response.content.decode()
    body = html[html.index('<table class="daily">'):]
    table = response.context["table_rows"]
    assert [row.day for row in table] == data["days"]
    for shown, row, calls in zip(table, page.rows, data["calls"]):
        cells = re.search(rf">{shown.day}</a></th>(.*?)</tr>", body, re.S).group(1)
        if calls is None:
            assert shown.cells is None and "Not stored yet" in cells
            continue
        assert [unescape(cell) for cell in re.findall(r'<td class="num">(.*?)</td>', cells)] == \
            shown.cells
        with translation.override("en"):
            assert shown.cells[0] == chart_display.display("count", calls)
            assert shown.cells[5] == chart_display.display("money", row.figures["fees"])


def test_it_fetches_days_through_the_sync_endpoint(client, account, yesterday):
    days = [yesterday - timedelta(days=1), yesterday]
    response = post_sync(client, account, days)
    assert response.status_code == 200
    answer = response.json()["days"]
    assert [item["day"] for item in answer] == [str(day) for day in days]
    for item, day in zip(answer, days):
        assert item["status"] == sync.STORED and item["error"] == ""
        assert item["rows"] == CallRecord.objects.filter(day=day).count() > 0
    again = post_sync(client, account, days).json()["days"]
    assert {item["status"] for item in again} == {sync.FRESH}
    page = client.get(chart_url(account, *days))
    assert charts_data(page)["sync"]["days"] == [str(day - timedelta(days=2)) for day in
                                                 reversed(days)]


def test_it_reports_a_failed_day_and_shows_it_as_a_gap(client, account, sim, yesterday):
    sim.set_faults(status={"code": 500, "message": "<img src=x onerror=alert(1)>"})
    answer = post_sync(client, account, [yesterday]).json()["days"]
    assert answer[0]["status"] == sync.FAILED and answer[0]["rows"] == 0
    assert "<img src=x onerror=alert(1)>" in answer[0]["error"]  # JSON; the page escapes it

    response = client.get(chart_url(account, yesterday, yesterday))
    html = response.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    assert charts_data(response)["calls"] == [None]
    assert "Fetch failed: not stored" in html
    # Failed just now: not handed to the browser again at once.
    assert str(yesterday) not in charts_data(response)["sync"]["days"]


@pytest.mark.parametrize("payload, status", [
    ({"day": ["2024-03-01"]}, 400),  # no account
    ({"day": []}, 400),
    ({"day": ["2024-13-01"]}, 400),
    ({"day": [f"2024-03-{n:02d}" for n in range(1, 9)]}, 400),  # 8 days
    ({"day": ["1999-12-31"]}, 400),
    ({"day": ["2999-01-01"]}, 400),
])
def test_it_validates_what_it_is_asked_to_fetch(client, account, sim, payload, status):
    if payload["day"] != ["2024-03-01"]:
        payload = {"account": account.pk, **payload}
    response = client.post(reverse("charts-sync"), payload)
    assert response.status_code == status and response.json()["error"]
    assert sim.request_count() == 0


def test_it_takes_only_posts_with_a_csrf_token(user, account, yesterday):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    assert client.get(reverse("charts-sync")).status_code == 405
    url, body = reverse("charts-sync"), {"account": account.pk, "day": [str(yesterday)]}
    assert client.post(url, body).status_code == 403
    assert not SyncState.objects.exists()

    page = client.get(chart_url(account, yesterday, yesterday)).content.decode()
    token = re.search(r'id="sync-progress".*?name="csrfmiddlewaretoken" value="([^"]+)"',
                      page, re.S).group(1)
    response = client.post(url, body, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json()["days"][0]["status"] == sync.STORED


def test_it_reads_a_year_of_aggregates_in_a_few_queries(client, account, yesterday,
                                                        django_assert_max_num_queries):
    start = yesterday - timedelta(days=364)
    days = sync.days_between(start - timedelta(days=365), yesterday)
    fetched = timezone.now()
    SyncState.objects.bulk_create(SyncState(account=account, day=day, fetched_at=fetched,
                                            rows_stored=1) for day in days)
    CallStats.objects.bulk_create(
        (CallStats(account=account, day=day, call_level=level, hour=hour, calls=10,
                   answered=6, talk_seconds=600, fees="1.25")
         for day in days[365:] for level in ("市话", "国内长途", "移动电话") for hour in (9, 10, 15)),
        batch_size=500)
    with django_assert_max_num_queries(8):
        response = client.get(chart_url(account, start, yesterday))
    assert response.status_code == 200
    data = charts_data(response)
    assert data["calls"] == [90] * 365 and data["fees"] == ["11.25"] * 365
    assert data["sync"]["days"] == []
    assert [level["total"] for level in data["levels"]] == [365 * 30] * 3
    assert [kpi.change for kpi in response.context["kpis"]][0] == ""  # previous: all zero
