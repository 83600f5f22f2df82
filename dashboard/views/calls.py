"""The calls page: find one call, or every call of a number, fast."""

from django.contrib import messages
from django.http import HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from dashboard import export
from dashboard.filters import CallFilter, yesterday
from dashboard.models import CallRecord, SyncState
from dashboard.picker import resolve_account, user_accounts
from dashboard.sync import FAILED, SKIPPED, ensure_fresh
from dashboard.tables import CallTable

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


class CallsMixin:
    """Reads the filter state from the URL into an account, a valid filterset and days."""

    def load_filters(self, request, params):
        self.account = resolve_account(request, params)
        data = params.copy()
        # Absent or blank: yesterday, and a one-day range.
        if not data.get("date_from"):
            data["date_from"] = yesterday().isoformat()
        if not data.get("date_to"):
            data["date_to"] = data["date_from"]
        self.filterset = CallFilter(
            data, queryset=self.base_queryset(), request=request, account=self.account
        )
        self.valid = self.filterset.is_valid() and self.account is not None
        self.days = self.filterset.days() if self.valid else []

    def base_queryset(self):
        if self.account is None:
            return CallRecord.objects.none()
        return CallRecord.objects.filter(account=self.account)

    def ordered_rows(self, params):
        """The whole filtered set in the table's order (what the pages show, all of them)."""
        table = CallTable(self.filterset.qs)
        sort = params.getlist("sort")
        if sort:
            table.order_by = sort
        return table.data.data


class CallsView(CallsMixin, SingleTableMixin, FilterView):
    table_class = CallTable
    template_name = "dashboard/calls.html"

    def get(self, request, *args, **kwargs):
        self.load_filters(request, request.GET)
        self.sync_results = []
        if self.valid:
            self.sync_results = ensure_fresh(account=self.account, days=self.days)
            self.object_list = self.filterset.qs
        else:
            self.object_list = CallRecord.objects.none()
        context = self.get_context_data(filter=self.filterset, object_list=self.object_list)
        return self.render_to_response(context)

    def get_table_pagination(self, table):
        return {"per_page": self.page_size()}

    def page_size(self) -> int:
        try:
            size = int(self.request.GET.get("per_page", DEFAULT_PAGE_SIZE))
        except ValueError:
            return DEFAULT_PAGE_SIZE
        return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        states = list(SyncState.objects.filter(account=self.account, day__in=self.days)
                      .order_by("day")) if self.valid else []
        stored_days = {state.day for state in states if state.fetched_at}
        context.update(
            nav="calls",
            account=self.account,
            accounts=user_accounts(self.request.user),
            summary=self.filterset.summary() if self.valid else None,
            page_sizes=PAGE_SIZES,
            page_size=self.page_size(),
            states=states,
            failed_states=[state for state in states if state.failed],
            stored_rows=sum(state.rows_stored for state in states),
            rejected=sum(state.rows_rejected for state in states if state.fetched_at),
            oldest_fetch=min((s.fetched_at for s in states if s.fetched_at), default=None),
            missing_days=[day for day in self.days if day not in stored_days],
            skipped=sum(1 for r in self.sync_results if r.status == SKIPPED),
            query=self.request.GET.urlencode(),
        )
        return context


class ExportView(CallsMixin, View):
    """The whole filtered, sorted set as CSV (streamed) or XLSX. Reads the store only."""

    format = "csv"

    def get(self, request):
        self.load_filters(request, request.GET)
        if not self.valid:
            messages.error(request, _("Fix the filters before exporting."))
            return HttpResponseRedirect(reverse("calls") + "?" + request.GET.urlencode())
        rows = self.ordered_rows(request.GET)
        name = f"calls-{self.days[0]}" + (f"-{self.days[-1]}" if len(self.days) > 1 else "")
        if self.format == "xlsx":
            return export.xlsx_response(rows, name)
        return export.csv_response(rows, name)


class RefreshView(CallsMixin, View):
    """POST: re-fetch the shown days now, then back to the same filtered page."""

    def post(self, request):
        query = request.POST.get("query", "")
        params = QueryDict(query)
        self.load_filters(request, params)
        # Only a query string is taken back, never a URL: nothing to redirect elsewhere.
        back = reverse("calls") + ("?" + params.urlencode() if params else "")
        if not self.valid:
            return HttpResponseRedirect(back)
        results = ensure_fresh(account=self.account, days=self.days, force=True)
        failed = [r for r in results if r.status == FAILED]
        skipped = [r for r in results if r.status == SKIPPED]
        done = len(results) - len(failed) - len(skipped)
        if done:
            messages.success(request, ngettext("Refreshed %(n)d day.", "Refreshed %(n)d days.", done) % {"n": done})
        for result in failed:
            messages.error(request, _("%(day)s: %(error)s") % {"day": result.day, "error": result.error.user_message()})
        if skipped:
            messages.warning(request, ngettext(
                "%(n)d day was not refreshed in time; press Refresh again.",
                "%(n)d days were not refreshed in time; press Refresh again.", len(skipped)) % {"n": len(skipped)})
        return HttpResponseRedirect(back)
