"""The charts page's figures for one account over a range of days.

Everything is read from the CallStats aggregates written at sync time, never from the
call rows. A day without a stored copy (not fetched yet, or its fetch failed) is a gap:
None in every series, never 0, so an outage cannot pass for a quiet day.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from dashboard.models import CallStats, SyncState, VosAccount, with_rates
from dashboard.sync import needs_fetch
from dashboard.tables import fee_text, talk_time

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
# Before this nothing can be stored, and the previous period of any range stays far
# from date.min.
EARLIEST_DAY = date(2000, 1, 1)
MISSING, FAILED = "missing", "failed"
LEVEL_KEYS = ("calls", "answered", "talk_seconds", "fees")
_FEE_RATE_PLACES = Decimal("0.0001")


# --- dates ----------------------------------------------------------------------------

def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


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
    for key in LEVEL_KEYS:
        into[key] = into.get(key, 0) + sums[key]


@dataclass
class DailyRow:
    day: date
    figures: dict | None  # None: a gap
    gap: str = ""  # "", MISSING or FAILED
    error: str = ""  # the last fetch's failure, also when an older copy is shown

    @property
    def cells(self) -> list[str]:
        """The day's figures as the table shows them, in the KPI cards' order."""
        return [display(kind, self.figures[key]) for key, _label, kind in KPIS]


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
    for day_levels in by_day.values():
        for sums in day_levels.values():
            _add(range_sums, sums)
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


# --- output ---------------------------------------------------------------------------

@dataclass
class Kpi:
    label: str
    value: str
    previous: str  # "" when there is nothing to compare with
    change: str
    trend: str  # "up", "down", "neutral" (more is neither good nor bad) or ""


# (figure, label, kind). Fees are "neutral": more may be more business or a costlier
# route, so their change is shown without a good/bad colour.
KPIS = (
    ("calls", gettext_lazy("Calls"), "count"),
    ("answered", gettext_lazy("Answered calls"), "count"),
    ("answer_rate", gettext_lazy("Answer rate (ASR)"), "percent"),
    ("talk_minutes", gettext_lazy("Talk minutes"), "minutes"),
    ("average_talk_seconds", gettext_lazy("Average talk time (ACD)"), "duration"),
    ("fees", gettext_lazy("Total fees"), "money"),
    ("fee_per_minute", gettext_lazy("Fee per answered minute"), "money_rate"),
)


def display(kind: str, value) -> str:
    """A figure as the page shows it, in the active language's number format."""
    if value is None:
        return "–"
    if kind == "count":
        return number_format(value, 0, force_grouping=True)
    if kind == "percent":
        return number_format(round(value, 1), 1) + "%"
    if kind == "minutes":
        return number_format(round(value, 1), 1, force_grouping=True)
    if kind == "duration":
        return talk_time(round(value))
    places = 2 if kind == "money" else 4
    # number_format cuts Decimals instead of rounding them.
    amount = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return "¥" + number_format(amount, places, force_grouping=True)


def kpis(page: ChartPage) -> list[Kpi]:
    cards = []
    for key, label, kind in KPIS:
        value = page.totals[key]
        previous = page.previous[key] if page.comparable else None
        change, trend = "", ""
        if kind == "percent" and value is not None and previous is not None:
            # A rate's change is told in points: 50% -> 55% is +5 pp, not +10%.
            points = round(value - previous, 1)
            change = _("%(points)s pp") % {"points": f"{points:+.1f}"}
            trend = "up" if points > 0 else "down" if points < 0 else ""
        elif value is not None and previous:
            percent = round(float((value - previous) / previous) * 100, 1)
            change = f"{percent:+.1f}%"
            trend = "up" if percent > 0 else "down" if percent < 0 else ""
        if trend and kind.startswith("money"):
            trend = "neutral"
        cards.append(Kpi(str(label), display(kind, value),
                         display(kind, previous) if previous is not None else "", change, trend))
    return cards


def _series(rows: list[DailyRow], key: str, convert=None) -> list:
    return [None if row.figures is None or row.figures[key] is None
            else (convert(row.figures[key]) if convert else row.figures[key]) for row in rows]


def chart_data(page: ChartPage, *, urls: dict, batch_days: int, text: dict) -> dict:
    """What charts.js draws, for json_script. Money goes out as strings: JSON numbers
    are floats."""
    rows = page.rows
    return {
        "account": page.account.pk,
        "days": [row.day.isoformat() for row in rows],
        "gaps": [row.gap for row in rows],
        "calls": _series(rows, "calls"),
        "answered": _series(rows, "answered"),
        "not_answered": [None if row.figures is None
                         else row.figures["calls"] - row.figures["answered"] for row in rows],
        "talk_minutes": _series(rows, "talk_minutes", lambda value: round(value, 1)),
        "answer_rate": _series(rows, "answer_rate", lambda value: round(value, 1)),
        "fees": _series(rows, "fees", fee_text),
        "levels": [{"name": level.name, "calls": level.calls, "total": level.total}
                   for level in page.levels],
        "hours": page.hours,
        "urls": urls,
        "sync": {"days": [day.isoformat() for day in page.pending_days], "batch": batch_days},
        "text": text,
    }


def csv_headers() -> list[str]:
    return [_("Day"), _("Calls"), _("Answered"), _("Not answered"), _("Answer rate (%)"),
            _("Talk minutes"), _("Average talk time (s)"), _("Fees (¥)"),
            _("Fee per answered minute (¥)"), _("Note")]


def csv_values(row: DailyRow) -> list:
    """One day as exported: plain numbers (no grouping), empty cells for a gap."""
    notes = {MISSING: _("not stored yet"), FAILED: _("fetch failed")}
    if row.figures is None:
        return [row.day.isoformat(), *[""] * 8, notes[row.gap]]
    values = row.figures
    acd = values["average_talk_seconds"]
    return [
        row.day.isoformat(), values["calls"], values["answered"],
        values["calls"] - values["answered"], _plain(values["answer_rate"], 1),
        _plain(values["talk_minutes"], 1), "" if acd is None else round(acd),
        fee_text(values["fees"]), "" if values["fee_per_minute"] is None else
        str(values["fee_per_minute"]), _("last fetch failed; older copy") if row.error else "",
    ]


def daily_csv(page: ChartPage) -> str:
    """The daily table as CSV, with a BOM so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(csv_headers())
    writer.writerows(csv_values(row) for row in page.rows)
    return buffer.getvalue()


def _plain(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"
