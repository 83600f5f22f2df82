"""The charts page's figures for one account over a range of days (how they are shown
is dashboard.chart_display).

Everything is read from the CallStats aggregates written at sync time, never from the
call rows. A day without a stored copy (not fetched yet, or its fetch failed) is a gap:
None in every series, never 0, so an outage cannot pass for a quiet day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dashboard.models import CallStats, SyncState, VosAccount, with_rates
from dashboard.sync import days_between, needs_fetch

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
# Before this nothing can be stored, and the previous period of any range stays far
# from date.min.
EARLIEST_DAY = date(2000, 1, 1)
MISSING, FAILED = "missing", "failed"
SUMMED = ("calls", "answered", "talk_seconds", "fees")  # what adds up across buckets
_FEE_RATE_PLACES = Decimal("0.0001")


# --- dates ----------------------------------------------------------------------------

def previous_period(start: date, end: date) -> tuple[date, date]:
    """The same number of days immediately before the range (a month is compared with
    the days just before it, not with the previous calendar month)."""
    length = timedelta(days=(end - start).days + 1)
    return start - length, start - timedelta(days=1)


def default_range(today: date) -> tuple[date, date]:
    end = today - timedelta(days=1)
    return end - timedelta(days=DEFAULT_RANGE_DAYS - 1), end


@dataclass(frozen=True)
class QuickRange:
    label: str
    start: date
    end: date


def quick_ranges(today: date) -> list[QuickRange]:
    """7/30/90 days ending yesterday, this month (to yesterday: today is still being
    billed, except on the 1st, when today is all there is) and last month."""
    yesterday = today - timedelta(days=1)
    month_start = today.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    ranges = [QuickRange(ngettext("%(n)d day", "%(n)d days", n) % {"n": n},
                         yesterday - timedelta(days=n - 1), yesterday) for n in (7, 30, 90)]
    ranges.append(QuickRange(_("This month"), month_start, max(yesterday, month_start)))
    ranges.append(QuickRange(_("Last month"), last_month_end.replace(day=1), last_month_end))
    return ranges


# --- figures --------------------------------------------------------------------------

def figures(sums: dict) -> dict:
    """with_rates() plus the average fee per answered minute (Decimal; None without talk)."""
    result = with_rates(sums)
    talk = result["talk_seconds"]
    result["fee_per_minute"] = (
        (result["fees"] * 60 / talk).quantize(_FEE_RATE_PLACES, ROUND_HALF_UP) if talk else None)
    return result


def _add(into: dict, sums: dict) -> None:
    for key in SUMMED:
        into[key] = into.get(key, 0) + sums[key]


@dataclass
class DailyRow:
    day: date
    figures: dict | None  # None: a gap
    gap: str = ""  # "", MISSING or FAILED
    error: str = ""  # the last fetch's failure, also when an older copy is shown


@dataclass
class LevelSeries:
    name: str
    calls: list  # per day, None on gaps
    total: int


@dataclass
class ChartPage:
    account: VosAccount
    start: date
    end: date
    previous_start: date
    previous_end: date
    rows: list[DailyRow]
    levels: list[LevelSeries]
    hours: list[dict]  # 24 of {"calls", "answered"}
    totals: dict
    previous: dict | None  # None unless every previous day is stored
    previous_gaps: int
    pending_days: list[date]

    @property
    def gaps(self) -> list[DailyRow]:
        return [row for row in self.rows if row.gap]

    @property
    def failures(self) -> list[DailyRow]:
        return [row for row in self.rows if row.error]

    @property
    def comparable(self) -> bool:
        """Partial sums compared with full ones would show made-up changes."""
        return self.previous is not None and not self.gaps

    @property
    def stored_days(self) -> int:
        return len(self.rows) - len(self.gaps)


def chart_page(*, account: VosAccount, start: date, end: date, now: datetime) -> ChartPage:
    """The page's figures in four queries: sync states of both periods, the range by
    (day, level), the range by hour and, when it is fully stored, the previous period."""
    previous_start, previous_end = previous_period(start, end)
    states = {state.day: state for state in
              SyncState.objects.filter(account=account, day__range=(previous_start, end))}
    stats = CallStats.objects.in_range(account, start, end)
    by_day: dict[date, dict[str, dict]] = defaultdict(dict)
    for bucket in stats.daily_by_level():
        by_day[bucket["day"]][bucket["call_level"]] = bucket
    days = days_between(start, end)
    rows = [_daily_row(day, states.get(day), by_day.get(day, {})) for day in days]

    range_sums: dict = {}
    for row in rows:
        if row.figures is not None:
            _add(range_sums, row.figures)
    hours = [{"calls": 0, "answered": 0} for _hour in range(24)]
    for bucket in stats.by_hour():
        hours[bucket["hour"]] = {"calls": bucket["calls"], "answered": bucket["answered"]}

    previous_days = days_between(previous_start, previous_end)
    previous_gaps = sum(1 for day in previous_days if not _stored(states.get(day)))
    previous = None
    if not previous_gaps:
        previous = figures(CallStats.objects.in_range(account, previous_start, previous_end)
                           .summary())
    pending = [day for day in [*reversed(days), *reversed(previous_days)]
               if needs_fetch(states.get(day), day, now=now)]
    return ChartPage(
        account=account, start=start, end=end, previous_start=previous_start,
        previous_end=previous_end, rows=rows, levels=_levels(rows, by_day), hours=hours,
        totals=figures(range_sums), previous=previous, previous_gaps=previous_gaps,
        pending_days=pending,
    )


def _stored(state: SyncState | None) -> bool:
    return state is not None and state.fetched_at is not None


def _daily_row(day: date, state: SyncState | None, levels: dict[str, dict]) -> DailyRow:
    error = state.error_message if state is not None and state.failed else ""
    if not _stored(state):
        return DailyRow(day, None, gap=FAILED if error else MISSING, error=error)
    sums: dict = {}
    for level_sums in levels.values():
        _add(sums, level_sums)
    return DailyRow(day, figures(sums), error=error)


def _levels(rows: list[DailyRow], by_day: dict) -> list[LevelSeries]:
    # By name, so a level keeps its colour while the ranges around it change.
    names = sorted({name for day_levels in by_day.values() for name in day_levels})
    series = []
    for name in names:
        calls = [None if row.gap else by_day.get(row.day, {}).get(name, {}).get("calls", 0)
                 for row in rows]
        series.append(LevelSeries(name or _("(none)"), calls,
                                  sum(value for value in calls if value)))
    return series
