"""The calls page, its export and refresh, as a support person uses them."""

import csv
import time
import io
import re
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import sync
from dashboard.models import CallRecord, SyncState
from dashboard.records import parse_records
from dashboard.tables import CallTable
from tests.conftest import make_credential

pytestmark = pytest.mark.django_db

OLD_DAY = timezone.localdate() - timedelta(days=10)


def record(caller, callee, talk, fee, level, name, account, start="09:00:00"):
    hours, rest = divmod(talk, 3600)
    return {"phone": caller, "callee_phone": callee, "start_time": f"{OLD_DAY} {start}",
            "end_time": f"{OLD_DAY} {start}", "hold_time": f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}",
            "fee": Decimal(fee), "call_level_text": level, "customer_name": name,
            "customer_account": account}


RECORDS = [
    record("+86 138-0013-8000", "02088886666", 71, "0.12", "市话", "Acme 公司", "1001", "09:00:01"),
    record("13800138000", "008613900001111", 0, "0", "国内长途", "Beta", "1002", "09:00:02"),
    record("02161234567", "13900001111", 3600, "7.2", "国际长途", "<script>alert(1)</script>", "1003", "09:00:03"),
    record("13912345678", "0755-8888 1234", 30, "0.06", "市话", "Acme 公司", "1001", "09:00:04"),
]


def store(account, records, day=OLD_DAY):
    """A day as the sync stores it, marked final so that the page does not refetch it."""
    sync.replace_day(account=account, day=day, parsed=parse_records(records, day))
    SyncState.objects.filter(account=account, day=day).update(fetched_at=timezone.now())


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def stored(account):
    store(account, RECORDS)
    return account


def page(client, **params):
    params.setdefault("date_from", str(OLD_DAY))
    response = client.get(reverse("calls"), params)
    assert response.status_code == 200
    return response


def callers(response):
    return [row.record.caller for row in response.context["table"].paginated_rows]


def test_it_requires_login(client, stored):
    for name in ("calls", "calls-export-csv", "calls-export-xlsx"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_lands_on_the_calls_page_after_login(client, user):
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-alice-123"})
    assert response["Location"] == reverse("calls")


@pytest.mark.parametrize("params, expected", [
    ({"caller": "138", "caller_match": "begins"}, {"+86 138-0013-8000", "13800138000"}),
    ({"caller": "+86 13800138000"}, {"+86 138-0013-8000", "13800138000"}),
    ({"caller": "0086138", "caller_match": "begins"}, {"+86 138-0013-8000", "13800138000"}),
    ({"caller": "138-0013", "caller_match": "contains"}, {"+86 138-0013-8000", "13800138000"}),
    ({"caller": "8000", "caller_match": "ends"}, {"+86 138-0013-8000", "13800138000"}),
    ({"callee": "1111", "callee_match": "ends"}, {"13800138000", "02161234567"}),
    ({"callee": "139", "callee_match": "begins"}, {"13800138000", "02161234567"}),
    ({"callee": "8888 1234"}, {"13912345678"}),
    ({"call_level": "市话"}, {"+86 138-0013-8000", "13912345678"}),
    ({"answered": "on"}, {"+86 138-0013-8000", "02161234567", "13912345678"}),
    ({"talk_min": "60"}, {"+86 138-0013-8000", "02161234567"}),
    ({"fee_min": "0.1", "fee_max": "1"}, {"+86 138-0013-8000"}),
    ({"customer": "acme"}, {"+86 138-0013-8000", "13912345678"}),
    ({"customer": "1003"}, {"02161234567"}),
    ({}, {"+86 138-0013-8000", "13800138000", "02161234567", "13912345678"}),
])
def test_each_filter_narrows_the_calls(logged_in, stored, params, expected):
    response = page(logged_in, **params)
    assert set(callers(response)) == expected
    assert response.context["summary"]["calls"] == len(expected)


def test_the_summary_covers_the_whole_filtered_set(logged_in, stored):
    summary = page(logged_in, call_level="市话").context["summary"]
    assert summary["calls"] == 2 and summary["answered"] == 2
    assert summary["fees"] == Decimal("0.18")
    assert summary["talk_seconds"] == 101 and summary["answer_rate"] == 100


@pytest.mark.parametrize("column", list(CallTable.base_columns))
def test_every_column_sorts_both_ways(logged_in, stored, column):
    for sort, reverse_order in ((column, False), ("-" + column, True)):
        rows = [row.record for row in page(logged_in, sort=sort).context["table"].paginated_rows]
        keys = [(getattr(r, column), r.pk) for r in rows]
        assert keys == sorted(keys, reverse=reverse_order), sort


def test_it_shows_talk_time_and_fee_as_people_read_them(logged_in, stored):
    body = page(logged_in, caller="0216").content.decode()
    assert "1:00:00" in body and "7.20" in body


def test_it_escapes_text_from_the_platform(logged_in, stored):
    body = page(logged_in).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def many_calls(account, count=60):
    store(account, [record(f"1380000{n:04d}", "02088886666", n, "0.01", "市话", "Acme", "1",
                           start=f"10:{n // 60:02d}:{n % 60:02d}") for n in range(count)])


def test_pagination_keeps_filters_sort_and_page_size(logged_in, account):
    many_calls(account)
    response = page(logged_in, caller="1380000", sort="-fee", per_page="25")
    table = response.context["table"]
    assert table.paginator.num_pages == 3 and len(table.page.object_list) == 25
    body = response.content.decode()
    links = [link.replace("&amp;", "&") for link in re.findall(r'href="(\?[^"]*)"', body)]
    links = [link for link in links if re.search(r"[?&]page=2(&|$)", link)]
    assert links, "a link to page 2"
    assert all("caller=1380000" in link and "sort=-fee" in link and "per_page=25" in link
               for link in links)
    size_links = re.findall(r'href="(\?[^"]*per_page=100[^"]*)"', body)
    assert size_links and "caller=1380000" in size_links[0].replace("&amp;", "&")


def test_a_page_size_outside_the_choices_falls_back(logged_in, account):
    many_calls(account)
    for size in ("100000", "0", "-5", "abc"):
        assert page(logged_in, per_page=size).context["table"].paginator.per_page == 50


def csv_rows(response):
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")
    return list(csv.reader(io.StringIO(content[1:])))


def shown_rows(table):
    return [[str(cell) for cell in row] for row in
            ([cell for _column, cell in row.items()] for row in table.paginated_rows)]


def test_the_csv_equals_the_table_over_all_pages(logged_in, account):
    many_calls(account)
    params = {"date_from": str(OLD_DAY), "caller": "13800000", "sort": "-talk_seconds", "per_page": "25"}
    table_rows = []
    for number in (1, 2, 3):
        table_rows += shown_rows(logged_in.get(reverse("calls"), {**params, "page": number}).context["table"])
    response = logged_in.get(reverse("calls-export-csv"), params)
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0][0] in ("Caller", "主叫")
    assert rows[1:] == table_rows
    assert len(rows) == 61


def test_the_csv_keeps_chinese_text_for_excel(logged_in, stored):
    rows = csv_rows(logged_in.get(reverse("calls-export-csv"), {"date_from": str(OLD_DAY)}))
    assert ["Acme 公司", "市话"] == [rows[1][7], rows[1][6]]


def test_the_xlsx_holds_the_same_rows(logged_in, stored):
    params = {"date_from": str(OLD_DAY), "sort": "fee"}
    response = logged_in.get(reverse("calls-export-xlsx"), params)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    xlsx_rows = [[str(cell) for cell in row] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert xlsx_rows == shown_rows(logged_in.get(reverse("calls"), params).context["table"])


@pytest.mark.parametrize("params", [
    {"date_from": "2024-99-99"}, {"fee_min": "abc"}, {"fee_max": "1e999"}, {"talk_min": "99999999999999"},
    {"date_from": str(OLD_DAY), "date_to": str(OLD_DAY + timedelta(days=40))},
    {"date_from": str(OLD_DAY), "date_to": str(OLD_DAY - timedelta(days=1))},
    {"caller_match": "sideways"}, {"call_level": "no such level"}, {"caller": "x" * 500},
    {"page": "abc"}, {"page": "-3"}, {"page": "99999"}, {"sort": "bogus"}, {"sort": "-account__credential__token_encrypted"},
])
def test_bad_input_gets_a_normal_page(logged_in, stored, params):
    response = logged_in.get(reverse("calls"), params)
    assert response.status_code == 200
    for name in ("calls-export-csv", "calls-export-xlsx"):
        assert logged_in.get(reverse(name), params).status_code in (200, 302)


def test_invalid_filters_say_what_is_wrong(logged_in, stored):
    body = page(logged_in, date_to=str(OLD_DAY + timedelta(days=40))).content.decode()
    assert "31" in body
    assert 'class="errorlist' in body


def test_another_users_account_is_a_404_everywhere(client, other_user, stored, sim):
    mine = make_credential(other_user, sim.base_url, accounts=(2,))
    client.force_login(other_user)
    theirs = stored
    for name in ("calls", "calls-export-csv", "calls-export-xlsx"):
        assert client.get(reverse(name), {"account": theirs.pk, "date_from": str(OLD_DAY)}).status_code == 404
        assert client.get(reverse(name), {"credential": theirs.credential_id}).status_code == 404
    response = client.post(reverse("calls-refresh"), {"query": f"account={theirs.pk}&date_from={OLD_DAY}"})
    assert response.status_code == 404
    assert sim.request_count() == 0
    own = client.get(reverse("calls"), {"date_from": str(OLD_DAY)})
    assert own.context["account"].credential == mine
    assert not set(callers(own)) & {r["phone"] for r in RECORDS}


def test_it_syncs_a_day_that_is_not_stored_before_showing_it(logged_in, account, sim, yesterday):
    response = logged_in.get(reverse("calls"))
    assert sim.request_count(day=yesterday) == 1
    assert response.context["table"].paginator.count == CallRecord.objects.filter(day=yesterday).count() > 0
    assert response.context["oldest_fetch"] is not None


def test_a_failed_day_shows_its_error_and_the_stored_rows(logged_in, account, sim, yesterday, settings):
    settings.VOS_RETRIES = 0
    logged_in.get(reverse("calls"))
    stored_count = CallRecord.objects.filter(day=yesterday).count()
    sim.set_faults(envelope_error={"message": "账号余额不足，查询失败"})
    logged_in.post(reverse("calls-refresh"), {"query": ""})
    response = logged_in.get(reverse("calls"))
    body = response.content.decode()
    assert "账号余额不足，查询失败" in body
    assert response.context["table"].paginator.count == stored_count


def test_a_day_that_never_synced_says_so(logged_in, account, sim, settings):
    settings.VOS_RETRIES = 0
    sim.set_faults(status={"code": 503})
    response = logged_in.get(reverse("calls"))
    body = response.content.decode()
    assert "服务暂不可用" in body
    assert response.context["table"].paginator.count == 0


def test_refresh_refetches_the_shown_days_and_keeps_the_filters(logged_in, account, sim, yesterday):
    logged_in.get(reverse("calls"))
    query = f"account={account.pk}&caller=13&caller_match=begins"
    response = logged_in.post(reverse("calls-refresh"), {"query": query})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("calls") + "?")
    assert "caller=13" in response["Location"] and "caller_match=begins" in response["Location"]
    assert sim.request_count(day=yesterday) == 2


def test_refresh_needs_a_csrf_token(user, account, sim):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(reverse("calls-refresh"), {"query": ""}).status_code == 403
    assert sim.request_count() == 0


def test_a_user_without_credentials_is_told_what_to_do(logged_in):
    body = logged_in.get(reverse("calls"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No platform credential is set up for you yet" in body
    assert "<table" not in body


def test_the_page_runs_a_bounded_number_of_queries(logged_in, stored, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        page(logged_in, caller="138", caller_match="begins", sort="-fee")


def test_blank_dates_mean_yesterday(logged_in, account, sim, yesterday):
    response = logged_in.get(reverse("calls"), {"date_from": "", "date_to": ""})
    assert response.status_code == 200
    assert response.context["filter"].days() == [yesterday]


def test_a_slow_platform_does_not_hold_the_page(logged_in, account, sim, settings):
    settings.PAGE_SYNC_SECONDS = 1
    settings.VOS_READ_TIMEOUT = 30
    sim.set_faults(delay={"seconds": 4})
    started = time.monotonic()
    response = logged_in.get(reverse("calls"), HTTP_ACCEPT_LANGUAGE="en")
    assert time.monotonic() - started < 3
    assert "did not answer in time" in response.content.decode()
