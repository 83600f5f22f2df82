"""The calls table: columns, their formatting and their database ordering."""

from decimal import Decimal

import django_tables2 as tables
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard.models import CallRecord

NUMERIC = {"th": {"class": "num"}, "td": {"class": "num"}}


def talk_time(seconds: int) -> str:
    """H:MM:SS; hours run past 24."""
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour}:{minute:02d}:{second:02d}"


def fee_text(fee: Decimal) -> str:
    """Yuan with the stored precision: at least 2 places, more only when stored."""
    text = format(fee.normalize(), "f")
    whole, _dot, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def local_time(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


class CallTable(tables.Table):
    # Every ordering ends with the id so that equal values (many fees are 0) page
    # deterministically and the export lists exactly the rows of the pages.
    caller = tables.Column(verbose_name=_("Caller"), order_by=("caller", "id"))
    callee = tables.Column(verbose_name=_("Callee"), order_by=("callee", "id"))
    start = tables.Column(verbose_name=_("Start"), order_by=("start", "id"))
    end = tables.Column(verbose_name=_("End"), order_by=("end", "id"))
    talk_seconds = tables.Column(verbose_name=_("Talk time"), order_by=("talk_seconds", "id"), attrs=NUMERIC)
    fee = tables.Column(verbose_name=_("Fee (¥)"), order_by=("fee", "id"), attrs=NUMERIC)
    call_level = tables.Column(verbose_name=_("Call level"), order_by=("call_level", "id"))
    customer_name = tables.Column(verbose_name=_("Customer name"), order_by=("customer_name", "id"))
    customer_account = tables.Column(verbose_name=_("Customer account"), order_by=("customer_account", "id"))

    class Meta:
        model = CallRecord
        fields = ["caller", "callee", "start", "end", "talk_seconds", "fee", "call_level",
                  "customer_name", "customer_account"]
        order_by = ("start",)
        attrs = {"class": "calls"}
        template_name = "django_tables2/table.html"
        # Page size is read and bounded by the view, not taken raw from the URL.
        per_page_field = "_unused_per_page"

    def render_start(self, value):
        return local_time(value)

    def render_end(self, value):
        return local_time(value)

    def render_talk_seconds(self, value):
        return talk_time(value)

    def render_fee(self, value):
        return fee_text(value)

    # The export writes exactly what the table shows, column by column.
    export_formatters = {"start": local_time, "end": local_time, "talk_seconds": talk_time, "fee": fee_text}
