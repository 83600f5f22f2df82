"""The charts page: a manager's view of one account over up to a year of days.

GET pages only read what is stored. The days still to fetch go to the browser, which
fetches them in small batches through ChartsSyncView and reloads: a long range never
holds a request for minutes.
"""

import time
from datetime import date

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from dashboard import chart_display, charts, sync
from dashboard.filters import check_date_range
from dashboard.picker import resolve_account, user_accounts

SYNC_BATCH_DAYS = 3  # per browser request: each answers within PAGE_SYNC_SECONDS
MAX_SYNC_DAYS = 7


class IsoDateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        # <input type="date"> takes ISO only, whatever the language's date format.
        super().__init__(format="%Y-%m-%d")


class ChartRangeForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("From"), widget=IsoDateInput())
    date_to = forms.DateField(label=gettext_lazy("To"), widget=IsoDateInput())

    def __init__(self, data, *, today: date):
        super().__init__(data)
        self.today = today

    @classmethod
    def from_params(cls, params, *, today: date) -> "ChartRangeForm":
        """Bound to the URL's dates, or to the default range when it names none."""
        data = {name: params.get(name, "") for name in ("date_from", "date_to")}
        if not any(data.values()):
            start, end = charts.default_range(today)
            data = {"date_from": start.isoformat(), "date_to": end.isoformat()}
        return cls(data, today=today)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and start < charts.EARLIEST_DAY:
            self.add_error("date_from", _("Choose a day from %(day)s on.")
                           % {"day": charts.EARLIEST_DAY.isoformat()})
        if end and end > self.today:
            self.add_error("date_to", _("The end date is in the future."))
        if not self.errors:
            check_date_range(self, max_days=charts.MAX_RANGE_DAYS)
        return cleaned


class DayListField(forms.Field):
    widget = forms.MultipleHiddenInput

    def __init__(self, *, today: date, **kwargs):
        super().__init__(**kwargs)
        self.today = today

    def to_python(self, values):
        try:
            days = sorted({date.fromisoformat(value) for value in values or []})
        except (TypeError, ValueError):
            raise forms.ValidationError(_("Days must be dates as YYYY-MM-DD.")) from None
        if not days:
            raise forms.ValidationError(_("Name at least one day."))
        if len(days) > MAX_SYNC_DAYS:
            raise forms.ValidationError(_("At most %(n)d days at a time.") % {"n": MAX_SYNC_DAYS})
        if days[0] < charts.EARLIEST_DAY or days[-1] > self.today:
            raise forms.ValidationError(_("A day is outside the days that can be fetched."))
        return days


class SyncDaysForm(forms.Form):
    def __init__(self, data, *, today: date):
        super().__init__(data)
        self.fields["day"] = DayListField(today=today)


def script_text() -> dict:
    """The words charts.js shows, in the active language (%(name)s placeholders)."""
    return {
        "answered": _("Answered"), "not_answered": _("Not answered"),
        "calls_axis": _("Calls"), "fees_axis": _("Fees (¥)"), "rate_axis": _("Answer rate (%)"),
        "hour_axis": _("Hour of day"), "fees": _("Fees"), "answer_rate": _("Answer rate"),
        "calls": _("%(n)s calls"), "talk": _("Talk time: %(n)s min"),
        "share": _("%(n)s calls (%(share)s%%)"), "gap": _("not stored"),
        "progress": _("%(done)s of %(total)s days fetched"),
        "reloading": _("Done; showing the fetched days…"),
        "stopped": _("Fetching stopped: %(error)s. Reload the page to try again."),
        "signed_out": _("you may have been logged out"),
        "not_in_time": _("Some days were not fetched in time. Reload the page to try again."),
    }


class ChartsView(TemplateView):
    template_name = "dashboard/charts.html"

    def get_context_data(self, **kwargs):
        today = timezone.localdate()
        account = resolve_account(self.request, self.request.GET)
        form = ChartRangeForm.from_params(self.request.GET, today=today)
        context = super().get_context_data(
            nav="charts", account=account, accounts=user_accounts(self.request.user),
            form=form, page=None, quick_ranges=charts.quick_ranges(today), **kwargs)
        if account is None or not form.is_valid():
            return context
        page = charts.chart_page(account=account, start=form.cleaned_data["date_from"],
                                 end=form.cleaned_data["date_to"], now=timezone.now())
        urls = {"sync": reverse("charts-sync"), "calls": reverse("calls")}
        data = chart_display.chart_data(page, urls=urls, batch_days=SYNC_BATCH_DAYS,
                                        text=script_text())
        context.update(page=page, kpis=chart_display.kpis(page),
                       table_rows=chart_display.table_rows(page), charts_data=data)
        return context


class ChartsExportView(View):
    """The daily table of the charts page as CSV (at most 366 rows: no streaming)."""

    def get(self, request):
        account = resolve_account(request, request.GET)
        form = ChartRangeForm.from_params(request.GET, today=timezone.localdate())
        if account is None or not form.is_valid():
            if account is not None:
                messages.error(request, _("Fix the dates before exporting."))
            return HttpResponseRedirect(reverse("charts") + "?" + request.GET.urlencode())
        start, end = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
        page = charts.chart_page(account=account, start=start, end=end, now=timezone.now())
        response = HttpResponse(chart_display.daily_csv(page),
                                content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="daily-{account.pk}-{start}-{end}.csv"')
        return response


class ChartsSyncView(View):
    """POST account + up to 7 days: fetch those that are missing or stale, within
    PAGE_SYNC_SECONDS; answers each day's status, rows stored and error message."""

    def post(self, request):
        if not request.POST.get("account"):
            return JsonResponse({"error": _("Choose an account.")}, status=400)
        account = resolve_account(request, request.POST)  # 404 for anyone else's
        form = SyncDaysForm(request.POST, today=timezone.localdate())
        if not form.is_valid():
            return JsonResponse({"error": " ".join(form.errors["day"])}, status=400)
        results = sync.sync_days(accounts=[account], days=form.cleaned_data["day"],
                                 deadline=time.monotonic() + settings.PAGE_SYNC_SECONDS)
        return JsonResponse({"days": [
            {"day": result.day.isoformat(), "status": result.status, "rows": result.rows,
             "error": _error_text(result)} for result in results]})


def _error_text(result: sync.DayResult) -> str:
    if result.error is not None:
        return result.error.user_message()
    if result.status == sync.SKIPPED:
        return _("Not fetched in time.")
    return ""
