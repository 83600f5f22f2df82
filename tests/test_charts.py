"""dashboard.charts: figures from the stored aggregates, gaps, periods, export."""

import csv
import io
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from django.utils import timezone, translation

from dashboard import chart_display, charts, sync
from dashboard.models import CallRecord
from dashboard.tables import fee_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sync_in_this_thread(settings):
    # Worker threads have their own connections and cannot see the test's transaction.
    settings.SYNC_PARALLELISM = 1


def page_for(account, start, end):
    return charts.chart_page(account=account, start=start, end=end, now=timezone.now())


def data_for(page):
    return chart_display.chart_data(page, urls={"sync": "/s/", "calls": "/c/"}, batch_days=3,
                                    text={})


def record_sums(account, day):
    totals = CallRecord.objects.filter(account=account, day=day).aggregate(
        calls=Count("pk"), answered=Count("pk", filter=Q(talk_seconds__gt=0)),
        talk_seconds=Sum("talk_seconds"), fees=Sum("fee"))
    return {"calls": totals["calls"], "answered": totals["answered"],
            "talk_seconds": totals["talk_seconds"] or 0, "fees": totals["fees"] or Decimal(0)}


@pytest.mark.parametrize("calls_per_day, seed", [(300, 0), (57, 7), (1, 3), (0, 0)])
def test_it_matches_the_call_rows_for_every_day_level_and_hour(sim, account, yesterday,
                                                               calls_per_day, seed):
    sim.config.calls_per_day = calls_per_day
    sim.config.seed, old_seed = seed, sim.config.seed
    try:
        start = yesterday - timedelta(days=9)
        synced = [start, start + timedelta(days=1), start + timedelta(days=4),
                  start + timedelta(days=5), yesterday]  # a weekend in most weeks, and gaps
        results = sync.sync_days(accounts=[account], days=synced)
    finally:
        sim.config.seed = old_seed
    assert {result.status for result in results} == {sync.STORED}

    page = page_for(account, start, yesterday)
    data = data_for(page)
    records = CallRecord.objects.filter(account=account)
    for index, row in enumerate(page.rows):
        if row.day not in synced:
            assert row.figures is None and data["calls"][index] is None
            continue
        expected = record_sums(account, row.day)
        assert {key: row.figures[key] for key in expected} == expected
        assert data["calls"][index] == expected["calls"]
        assert data["answered"][index] == expected["answered"]
        assert data["fees"][index] == fee_text(expected["fees"])
        per_level = dict(records.filter(day=row.day).values_list("call_level")
                         .annotate(n=Count("pk")).order_by())
        assert {level.name: level.calls[index] for level in page.levels} == {
            level.name: per_level.get(level.name, 0) for level in page.levels}
        assert sum(level.calls[index] for level in page.levels) == expected["calls"]

    by_hour = Counter(timezone.localtime(start_time).hour
                      for start_time in records.values_list("start", flat=True))
    assert [hour["calls"] for hour in page.hours] == [by_hour[hour] for hour in range(24)]
    totals = records.summary()
    assert {key: page.totals[key] for key in ("calls", "answered", "talk_seconds", "fees")} == {
        key: totals[key] for key in ("calls", "answered", "talk_seconds", "fees")}
    assert sum(level.total for level in page.levels) == totals["calls"]


def test_it_shows_a_day_without_calls_as_zero_not_a_gap(sim, account, yesterday):
    sim.config.calls_per_day = 0
    sync.sync_days(accounts=[account], days=[yesterday])
    page = page_for(account, yesterday, yesterday)
    assert page.rows[0].figures["calls"] == 0 and page.rows[0].gap == ""
    assert data_for(page)["calls"] == [0]
    assert data_for(page)["fees"] == ["0.00"]


def test_it_shows_a_failed_day_as_a_gap_not_zero(sim, account, yesterday):
    good, bad = yesterday - timedelta(days=1), yesterday
    sync.sync_days(accounts=[account], days=[good])
    sim.set_faults(status={"code": 500, "message": "维护中"})
    [result] = sync.sync_days(accounts=[account], days=[bad])
    assert result.status == sync.FAILED

    page = page_for(account, good, bad)
    data = data_for(page)
    assert page.rows[1].figures is None and page.rows[1].gap == charts.FAILED
    assert "维护中" in page.rows[1].error
    assert [row.day for row in page.failures] == [bad]
    for series in ("calls", "answered", "not_answered", "fees", "answer_rate", "talk_minutes"):
        assert data[series][1] is None, series
        assert data[series][0] is not None, series
    assert all(level["calls"][1] is None for level in data["levels"])
    assert data["gaps"] == ["", charts.FAILED]
    assert page.totals["calls"] == record_sums(account, good)["calls"]


def test_it_keeps_showing_an_older_copy_when_a_refetch_fails(sim, account, yesterday):
    sync.sync_days(accounts=[account], days=[yesterday])
    sim.set_faults(status=503)
    sync.sync_days(accounts=[account], days=[yesterday], force=True)
    page = page_for(account, yesterday, yesterday)
    assert page.rows[0].figures["calls"] == record_sums(account, yesterday)["calls"] > 0
    assert page.rows[0].error and page.rows[0].gap == ""
    assert page.failures == page.rows


def test_it_lists_the_days_still_to_fetch_in_both_periods(sim, account, yesterday):
    start = yesterday - timedelta(days=2)
    stored = [start, yesterday - timedelta(days=4)]  # one in range, one before it
    sync.sync_days(accounts=[account], days=stored)
    sim.set_faults(status=500)
    sync.sync_days(accounts=[account], days=[yesterday])  # failed just now: not again yet

    page = page_for(account, start, yesterday)
    previous = sync.days_between(page.previous_start, page.previous_end)
    assert previous == [yesterday - timedelta(days=n) for n in (5, 4, 3)]
    assert page.pending_days == [start + timedelta(days=1), yesterday - timedelta(days=3),
                                 yesterday - timedelta(days=5)]
    assert [row.gap for row in page.rows] == ["", charts.MISSING, charts.FAILED]


def test_it_compares_with_the_previous_period_once_it_is_stored(sim, account, yesterday):
    start = yesterday - timedelta(days=1)
    sync.sync_days(accounts=[account], days=[start, yesterday])
    page = page_for(account, start, yesterday)
    assert page.previous is None and not page.comparable and page.previous_gaps == 2
    assert all(kpi.change == "" and kpi.previous == "" for kpi in chart_display.kpis(page))

    sim.config.calls_per_day = 200  # a quieter previous period
    sync.sync_days(accounts=[account], days=[page.previous_start, page.previous_end])
    page = page_for(account, start, yesterday)
    assert page.comparable
    now = CallRecord.objects.filter(day__range=(start, yesterday)).summary()
    before = CallRecord.objects.filter(day__lt=start).summary()
    assert page.previous["calls"] == before["calls"] < now["calls"]
    with translation.override("en"):
        cards = {kpi.label: kpi for kpi in chart_display.kpis(page)}
    calls_change = (now["calls"] - before["calls"]) * 100 / before["calls"]
    assert cards["Calls"].change == f"{calls_change:+.1f}%"
    assert cards["Calls"].trend == "up"
    assert cards["Calls"].previous == f"{before['calls']:,}"
    points = round(now["answer_rate"] - before["answer_rate"], 1)
    assert cards["Answer rate (ASR)"].change == f"{points:+.1f} pp"
    assert cards["Total fees"].trend in ("neutral", "")


@pytest.mark.parametrize("start, end, previous", [
    (date(2024, 3, 1), date(2024, 3, 31), (date(2024, 1, 30), date(2024, 2, 29))),
    (date(2023, 3, 1), date(2023, 3, 31), (date(2023, 1, 29), date(2023, 2, 28))),
    (date(2025, 1, 1), date(2025, 1, 31), (date(2024, 12, 1), date(2024, 12, 31))),
    (date(2025, 1, 1), date(2025, 1, 1), (date(2024, 12, 31), date(2024, 12, 31))),
    (date(2024, 12, 25), date(2025, 1, 7), (date(2024, 12, 11), date(2024, 12, 24))),
    (date(2024, 1, 1), date(2024, 12, 31), (date(2022, 12, 31), date(2023, 12, 31))),
    (date(2024, 2, 29), date(2024, 2, 29), (date(2024, 2, 28), date(2024, 2, 28))),
])
def test_it_compares_with_as_many_days_just_before(start, end, previous):
    assert charts.previous_period(start, end) == previous
    before = sync.days_between(*previous)
    assert len(before) == len(sync.days_between(start, end))
    assert before[-1] + timedelta(days=1) == start


@pytest.mark.parametrize("today, this_month, last_month", [
    (date(2025, 3, 15), (date(2025, 3, 1), date(2025, 3, 14)),
     (date(2025, 2, 1), date(2025, 2, 28))),
    (date(2025, 1, 1), (date(2025, 1, 1), date(2025, 1, 1)),
     (date(2024, 12, 1), date(2024, 12, 31))),
    (date(2024, 3, 2), (date(2024, 3, 1), date(2024, 3, 1)),
     (date(2024, 2, 1), date(2024, 2, 29))),
])
def test_it_offers_quick_ranges_at_month_and_year_edges(today, this_month, last_month):
    ranges = charts.quick_ranges(today)
    yesterday = today - timedelta(days=1)
    assert [(r.start, r.end) for r in ranges[:3]] == [
        (yesterday - timedelta(days=n - 1), yesterday) for n in (7, 30, 90)]
    assert (ranges[3].start, ranges[3].end) == this_month
    assert (ranges[4].start, ranges[4].end) == last_month
    assert charts.default_range(today) == (yesterday - timedelta(days=29), yesterday)


def test_it_compares_last_month_with_the_days_just_before_it():
    last_month = charts.quick_ranges(date(2025, 1, 10))[4]
    assert charts.previous_period(last_month.start, last_month.end) == (
        date(2024, 10, 31), date(2024, 11, 30))


def test_it_exports_the_same_figures_as_the_chart_data(sim, account, yesterday):
    start = yesterday - timedelta(days=3)
    sync.sync_days(accounts=[account], days=[start, start + timedelta(days=1), yesterday])
    page = page_for(account, start, yesterday)
    data = data_for(page)
    with translation.override("en"):
        text = chart_display.daily_csv(page)
    assert text.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text[1:])))
    assert header[:3] == ["Day", "Calls", "Answered"]
    assert [row[0] for row in rows] == data["days"]
    for index, row in enumerate(rows):
        if data["calls"][index] is None:
            assert row[1:9] == [""] * 8 and row[9] == "not stored yet"
            continue
        assert int(row[1]) == data["calls"][index]
        assert int(row[2]) == data["answered"][index]
        assert int(row[3]) == data["not_answered"][index]
        assert float(row[4]) == data["answer_rate"][index]
        assert float(row[5]) == data["talk_minutes"][index]
        assert row[7] == data["fees"][index]
        figures = page.rows[index].figures
        assert Decimal(row[8]) == figures["fee_per_minute"] == (
            figures["fees"] * 60 / figures["talk_seconds"]).quantize(Decimal("0.0001"))


@pytest.mark.parametrize("kind, value, shown", [
    ("count", 1234567, "1,234,567"),
    ("percent", 55.56, "55.6%"),
    ("minutes", 1234.56, "1,234.6"),
    ("duration", 83.4, "0:01:23"),
    ("money", Decimal("1234.565"), "¥1,234.57"),
    ("money_rate", Decimal("0.08765"), "¥0.0877"),
    ("money", None, "–"),
])
def test_it_formats_figures_for_people(kind, value, shown):
    with translation.override("en"):
        assert chart_display.display(kind, value) == shown


def test_it_keeps_a_level_colour_slot_by_name(sim, account, yesterday):
    sync.sync_days(accounts=[account], days=[yesterday])
    page = page_for(account, yesterday, yesterday)
    names = [level.name for level in page.levels]
    assert names == sorted(names) and len(names) > 1
    per_level = defaultdict(int)
    for level, in CallRecord.objects.values_list("call_level"):
        per_level[level] += 1
    assert {level.name: level.total for level in page.levels} == dict(per_level)
