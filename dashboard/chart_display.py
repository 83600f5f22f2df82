"""How the charts page shows its figures (dashboard.charts builds them): KPI cards, the
daily table, the data charts.js draws and the CSV export, all from one ChartPage."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import numberformat
from django.utils.formats import get_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dashboard.charts import FAILED, MISSING, ChartPage, DailyRow
from dashboard.tables import fee_text, talk_time


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


_QUANTA = {2: Decimal("0.01"), 4: Decimal("0.0001")}


def number_style() -> dict:
    """The active language's separators and grouping, looked up once for many numbers
    (django.utils.formats.number_format looks them up for every one: 2x slower)."""
    return {"decimal_sep": get_format("DECIMAL_SEPARATOR"),
            "thousand_sep": get_format("THOUSAND_SEPARATOR"),
            "grouping": get_format("NUMBER_GROUPING")}


def display(kind: str, value, style: dict | None = None) -> str:
    """A figure as the page shows it, in the active language's number format."""
    if value is None:
        return "–"
    style = style or number_style()

    def number(amount, places: int, grouping: bool = True) -> str:
        return numberformat.format(amount, decimal_pos=places, force_grouping=grouping,
                                   use_l10n=True, **style)

    if kind == "count":
        return number(value, 0)
    if kind == "percent":
        return number(round(value, 1), 1, grouping=False) + "%"
    if kind == "minutes":
        return number(round(value, 1), 1)
    if kind == "duration":
        return talk_time(round(value))
    places = 2 if kind == "money" else 4
    # numberformat cuts Decimals instead of rounding them.
    return "¥" + number(value.quantize(_QUANTA[places], ROUND_HALF_UP), places)


def kpis(page: ChartPage) -> list[Kpi]:
    style = number_style()
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
        cards.append(Kpi(str(label), display(kind, value, style),
                         display(kind, previous, style) if previous is not None else "",
                         change, trend))
    return cards


@dataclass
class TableRow:
    day: str
    calls_query: str  # the calls page's query string for this day and account
    cells: list[str] | None  # the KPI cards' figures for the day; None for a gap
    gap: str


def table_rows(page: ChartPage) -> list[TableRow]:
    """The daily table, formatted here: a year is 365 rows and the template engine
    costs microseconds a node, so rows reach it as ready strings."""
    style = number_style()
    rows = []
    for row in page.rows:
        day = row.day.isoformat()
        cells = None if row.figures is None else [
            display(kind, row.figures[key], style) for key, _label, kind in KPIS]
        query = urlencode({"account": page.account.pk, "date_from": day, "date_to": day})
        rows.append(TableRow(day, query, cells, row.gap))
    return rows


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
