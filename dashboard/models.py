from decimal import Decimal

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from dashboard import crypto
from dashboard.money import MoneyField


class CredentialQuerySet(models.QuerySet):
    def for_user(self, user):
        """The credentials a user may use: their own; a superuser's, all."""
        if user.is_superuser:
            return self
        return self.filter(user=user)


class Credential(models.Model):
    """One user's access to the platform: whose, where, and the bearer token."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="vos_credentials",
        verbose_name=_("user"),
    )
    label = models.CharField(_("label"), max_length=100)
    base_url = models.CharField(
        _("base URL"),
        max_length=300,
        default=settings.VOS_DEFAULT_BASE_URL,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("The platform's API root, up to and including /agent-api."),
    )
    platform_user_id = models.UUIDField(
        _("platform user id"), help_text=_("The platform user's UUID, from its console.")
    )
    token_encrypted = models.TextField(_("token (encrypted)"), editable=False)
    token_hint = models.CharField(_("token hint"), max_length=12, editable=False, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        verbose_name = _("platform credential")
        verbose_name_plural = _("platform credentials")
        ordering = ["user_id", "label", "id"]

    def __str__(self):
        return self.label

    def set_token(self, token: str) -> None:
        token = token.strip()
        self.token_encrypted = crypto.encrypt(token)
        self.token_hint = "••••" + token[-4:] if len(token) >= 12 else "••••"

    def get_token(self) -> str:
        """The plaintext bearer token; raises crypto.TokenDecryptionError."""
        return crypto.decrypt(self.token_encrypted)

    def accounts_to_sync(self) -> list["VosAccount"]:
        """The configured accounts, or the platform's default (first) account when none is."""
        accounts = list(self.accounts.all())
        if accounts:
            return accounts
        default, _created = VosAccount.objects.get_or_create(
            credential=self, account_id=None, defaults={"label": str(_("Default account"))}
        )
        return [default]


class VosAccountQuerySet(models.QuerySet):
    def for_user(self, user):
        if user.is_superuser:
            return self
        return self.filter(credential__user=user)


class VosAccount(models.Model):
    """A VOS account a credential may query. account_id None = the platform's first account."""

    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="accounts", verbose_name=_("credential")
    )
    account_id = models.PositiveIntegerField(
        _("VOS account id"),
        null=True,
        blank=True,
        help_text=_("Leave empty for the platform's first account."),
    )
    label = models.CharField(_("label"), max_length=100, blank=True)

    objects = VosAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("VOS account")
        verbose_name_plural = _("VOS accounts")
        ordering = ["credential_id", "account_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "account_id"], name="unique_account_per_credential"
            ),
            models.UniqueConstraint(
                fields=["credential"],
                condition=Q(account_id__isnull=True),
                name="one_default_account_per_credential",
            ),
        ]

    def __str__(self):
        name = self.label or (
            _("account %(id)s") % {"id": self.account_id}
            if self.account_id is not None
            else _("default account")
        )
        return f"{self.credential.label} / {name}"


class CallRecordQuerySet(models.QuerySet):
    def summary(self) -> dict:
        """calls, answered, talk_seconds, fees (Decimal) over the whole set, in one query."""
        totals = self.order_by().aggregate(
            calls=Count("pk"),
            answered=Count("pk", filter=Q(talk_seconds__gt=0)),
            talk_seconds=Sum("talk_seconds"),
            fees=Sum("fee"),
        )
        return with_rates(totals)


class CallRecord(models.Model):
    """One call as the switch billed it. Records carry no id upstream: identical rows are
    separate calls and are all kept."""

    account = models.ForeignKey(VosAccount, on_delete=models.CASCADE, related_name="calls")
    day = models.DateField(_("day"))
    caller = models.CharField(_("caller"), max_length=64)
    callee = models.CharField(_("callee"), max_length=64)
    # Searchable forms (dashboard.phone.number_key), written at sync time.
    caller_key = models.CharField(max_length=64)
    callee_key = models.CharField(max_length=64)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    talk_seconds = models.PositiveIntegerField(_("talk time"))
    fee = MoneyField(_("fee"))
    call_level = models.CharField(_("call level"), max_length=64)
    customer_name = models.CharField(_("customer name"), max_length=255)
    customer_account = models.CharField(_("customer account"), max_length=64)

    objects = CallRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("call record")
        verbose_name_plural = _("call records")
        # Each index costs ~0.2 s per 100k-call day stored (SQLite, measured): only the
        # default order and the caller look-up support staff use most get one.
        indexes = [
            models.Index(fields=["account", "day", "start"], name="call_day_start"),
            models.Index(fields=["account", "day", "caller_key"], name="call_day_caller"),
        ]

    def __str__(self):
        return f"{self.caller} → {self.callee} @ {self.start:%Y-%m-%d %H:%M:%S}"


class CallStatsQuerySet(models.QuerySet):
    def levels(self, account) -> list[str]:
        """The call levels stored for an account, for the filter's choices."""
        return list(
            self.filter(account=account).order_by("call_level")
            .values_list("call_level", flat=True).distinct()
        )

    def summary(self) -> dict:
        totals = self.order_by().aggregate(
            calls=Sum("calls"), answered=Sum("answered"),
            talk_seconds=Sum("talk_seconds"), fees=Sum("fees"),
        )
        return with_rates(totals)

    def in_range(self, account, start, end):
        """One account's buckets for the days start..end, both included."""
        return self.filter(account=account, day__range=(start, end))

    def daily_by_level(self):
        """Dicts of day, call_level, calls, answered, talk_seconds, fees (Decimal), one per
        (day, level), in that order: the daily totals are their sums, so one scan serves
        both the daily and the per-level charts."""
        return (self.order_by().values("day", "call_level")
                .annotate(calls=Sum("calls"), answered=Sum("answered"),
                          talk_seconds=Sum("talk_seconds"), fees=Sum("fees"))
                .order_by("day", "call_level"))

    def by_hour(self):
        """Dicts of hour, calls, answered, one per hour of the day that has calls."""
        return (self.order_by().values("hour")
                .annotate(calls=Sum("calls"), answered=Sum("answered")).order_by("hour"))


class CallStats(models.Model):
    """Per (account, day, call level, hour) sums, written with the day's rows so charts
    never scan calls."""

    account = models.ForeignKey(VosAccount, on_delete=models.CASCADE, related_name="stats")
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    call_level = models.CharField(max_length=64)
    calls = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()
    talk_seconds = models.BigIntegerField()
    fees = MoneyField()

    objects = CallStatsQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "call_level", "hour"], name="unique_stats_bucket"
            )
        ]
        # Covering: the charts' sums over a year read this index alone, never the table
        # (about 62 → 36 ms for 365 days on SQLite).
        indexes = [
            models.Index(fields=["account", "day", "call_level", "hour", "calls", "answered",
                                 "talk_seconds", "fees"], name="stats_covering"),
        ]


class SyncStateQuerySet(models.QuerySet):
    def for_user(self, user):
        if user.is_superuser:
            return self
        return self.filter(account__credential__user=user)


class SyncState(models.Model):
    """What we know of one (account, day): when it was fetched, what it held, what failed."""

    account = models.ForeignKey(VosAccount, on_delete=models.CASCADE, related_name="sync_states")
    day = models.DateField(_("day"))
    fetched_at = models.DateTimeField(_("fetched at"), null=True, blank=True)
    rows_stored = models.PositiveIntegerField(_("rows stored"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows rejected"), default=0)
    rejected_reasons = models.JSONField(_("rejection reasons"), default=list, blank=True)
    # The last failure: its kind (a key of client.ERROR_MESSAGES, "" when the last
    # attempt succeeded), the platform's own message and a technical note.
    last_error = models.CharField(_("last error"), max_length=20, blank=True)
    last_error_message = models.TextField(_("platform message"), blank=True)
    last_error_detail = models.CharField(_("error detail"), max_length=300, blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    last_error_status = models.IntegerField(null=True, blank=True)
    last_error_retryable = models.BooleanField(default=False)

    objects = SyncStateQuerySet.as_manager()

    class Meta:
        verbose_name = _("sync state")
        verbose_name_plural = _("sync states")
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="unique_sync_state_day")
        ]

    def __str__(self):
        return f"{self.account} {self.day}"

    @property
    def failed(self) -> bool:
        """The last attempt failed (an older successful fetch may still be stored)."""
        return bool(self.last_error)

    @property
    def error_message(self) -> str:
        """The last failure in the active language, with the platform's own words."""
        from dashboard.client import render_error

        if not self.last_error:
            return ""
        return render_error(self.last_error, self.last_error_status,
                            self.last_error_detail, self.last_error_message)


def with_rates(totals: dict) -> dict:
    """Fill in empty sums and the telecom KPIs: answer rate (ASR, %), talk minutes and
    average talk time of answered calls (ACD, seconds)."""
    calls = totals.get("calls") or 0
    answered = totals.get("answered") or 0
    talk = totals.get("talk_seconds") or 0
    return {
        "calls": calls,
        "answered": answered,
        "talk_seconds": talk,
        "fees": totals.get("fees") or Decimal("0"),
        "answer_rate": (answered * 100 / calls) if calls else None,
        "talk_minutes": talk / 60,
        "average_talk_seconds": (talk / answered) if answered else None,
    }
