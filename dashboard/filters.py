"""The calls page's filter form: its whole state lives in the URL."""

from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard.models import CallRecord, CallStats
from dashboard.phone import number_key
from dashboard.sync import days_between

MAX_RANGE_DAYS = 31
MAX_FEE = 10**9
MAX_TALK_SECONDS = 10**7
CONTAINS, BEGINS, ENDS = "contains", "begins", "ends"
MATCH_CHOICES = [(CONTAINS, _("contains")), (BEGINS, _("begins with")), (ENDS, _("ends with"))]


def yesterday():
    return timezone.localdate() - timedelta(days=1)


def check_date_range(form: forms.Form, *, max_days: int) -> None:
    """Form errors on date_to for a range that runs backwards or is longer than max_days
    (the calls and charts pages share the rule, with their own limits)."""
    start, end = form.cleaned_data.get("date_from"), form.cleaned_data.get("date_to")
    if not (start and end):
        return
    if end < start:
        form.add_error("date_to", _("The end date is before the start date."))
    elif (end - start).days + 1 > max_days:
        form.add_error("date_to", _("Choose at most %(days)d days.") % {"days": max_days})


class CallFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        check_date_range(self, max_days=MAX_RANGE_DAYS)
        return cleaned


class CallFilter(django_filters.FilterSet):
    """Filters calls of one account. The view supplies the account's queryset and the
    date defaults; every value here is validated by the form before it reaches SQL."""

    date_from = django_filters.DateFilter(method="filter_days", label=_("From"),
                                          widget=forms.DateInput(attrs={"type": "date"}))
    date_to = django_filters.DateFilter(method="filter_nothing", label=_("To"),
                                        widget=forms.DateInput(attrs={"type": "date"}))
    caller = django_filters.CharFilter(method="filter_number", label=_("Caller"), max_length=64)
    caller_match = django_filters.ChoiceFilter(choices=MATCH_CHOICES, method="filter_nothing",
                                               empty_label=None, label=_("Caller match"))
    callee = django_filters.CharFilter(method="filter_number", label=_("Callee"), max_length=64)
    callee_match = django_filters.ChoiceFilter(choices=MATCH_CHOICES, method="filter_nothing",
                                               empty_label=None, label=_("Callee match"))
    call_level = django_filters.ChoiceFilter(field_name="call_level", label=_("Call level"),
                                             empty_label=_("All levels"))
    answered = django_filters.BooleanFilter(method="filter_answered", label=_("Answered only"),
                                            widget=forms.CheckboxInput)
    talk_min = django_filters.NumberFilter(field_name="talk_seconds", lookup_expr="gte",
                                           label=_("Talk time ≥ (s)"), min_value=0,
                                           max_value=MAX_TALK_SECONDS, decimal_places=0)
    fee_min = django_filters.NumberFilter(field_name="fee", lookup_expr="gte", label=_("Fee from"),
                                          min_value=-MAX_FEE, max_value=MAX_FEE, decimal_places=6)
    fee_max = django_filters.NumberFilter(field_name="fee", lookup_expr="lte", label=_("Fee to"),
                                          min_value=-MAX_FEE, max_value=MAX_FEE, decimal_places=6)
    customer = django_filters.CharFilter(method="filter_customer", label=_("Customer"), max_length=100)

    class Meta:
        model = CallRecord
        fields = []
        form = CallFilterForm

    # Filters the per-hour aggregates cannot answer; without them the summary reads
    # CallStats (a few hundred rows) instead of every call of the days.
    ROW_FILTERS = ("caller", "callee", "answered", "talk_min", "fee_min", "fee_max", "customer")

    def __init__(self, data=None, *args, account=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.account = account
        levels = CallStats.objects.levels(account) if account is not None else []
        self.filters["call_level"].extra["choices"] = [(level, level or _("(none)")) for level in levels]

    def filter_nothing(self, queryset, name, value):
        return queryset  # read by another filter's method

    def filter_days(self, queryset, name, value):
        # `day IN (…)`, not a range: after a range SQLite cannot use the next column of
        # an index, so (account, day, start) would no longer give the order and
        # (account, day, caller_key) no longer the caller look-up.
        return queryset.filter(day__in=self.days())

    def summary(self) -> dict:
        """Totals and KPIs of the whole filtered set (valid forms only)."""
        data = self.form.cleaned_data
        if any(data.get(name) not in (None, "", False) for name in self.ROW_FILTERS):
            return self.qs.summary()
        stats = CallStats.objects.filter(account=self.account, day__in=self.days())
        if data.get("call_level"):
            stats = stats.filter(call_level=data["call_level"])
        return stats.summary()

    def days(self) -> list:
        """The days the form asks for (valid forms only)."""
        start = self.form.cleaned_data["date_from"]
        end = self.form.cleaned_data.get("date_to") or start
        return days_between(start, end)

    def filter_number(self, queryset, name, value):
        key = number_key(value)
        if not key:
            return queryset
        match = self.form.cleaned_data.get(f"{name}_match") or CONTAINS
        column = f"{name}_key"
        if match == BEGINS and ord(key[-1]) < 0x10FFFF:
            # A range, not LIKE 'x%': SQLite cannot use an index for LIKE.
            upper = key[:-1] + chr(ord(key[-1]) + 1)
            return queryset.filter(**{f"{column}__gte": key, f"{column}__lt": upper})
        if match == BEGINS:
            return queryset.filter(**{f"{column}__startswith": key})
        if match == ENDS:
            return queryset.filter(**{f"{column}__endswith": key})
        return queryset.filter(**{f"{column}__contains": key})

    def filter_answered(self, queryset, name, value):
        return queryset.filter(talk_seconds__gt=0) if value else queryset

    def filter_customer(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(customer_account__icontains=value) | Q(customer_name__icontains=value))
