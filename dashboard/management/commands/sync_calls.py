import sys
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dashboard.models import Credential
from dashboard.sync import FAILED, FRESH, SKIPPED, STORED, days_between, sync_days

MAX_DAYS = 366


class Command(BaseCommand):
    help = "Fetch call records from the platform into the local store (stale days only unless --force)."

    def add_arguments(self, parser):
        parser.add_argument("--credential", type=int, action="append", help="credential id (repeatable)")
        parser.add_argument("--user", action="append", help="username whose credentials to sync (repeatable)")
        parser.add_argument("--account", type=int, action="append",
                            help="VOS account id to limit to (repeatable); default: all of each credential")
        parser.add_argument("--from", dest="start", type=date.fromisoformat, help="first day, YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--to", dest="end", type=date.fromisoformat, help="last day, YYYY-MM-DD (default: --from)")
        parser.add_argument("--force", action="store_true", help="re-fetch even final days")
        parser.add_argument("--parallel", type=int, help="days fetched at once (default: SYNC_PARALLELISM)")

    def handle(self, *args, **options):
        yesterday = timezone.localdate() - timedelta(days=1)
        start = options["start"] or yesterday
        end = options["end"] or start
        if end < start:
            raise CommandError("--to is before --from")
        if (end - start).days + 1 > MAX_DAYS:
            raise CommandError(f"at most {MAX_DAYS} days at a time")
        credentials = Credential.objects.select_related("user").order_by("pk")
        if options["credential"]:
            credentials = credentials.filter(pk__in=options["credential"])
        if options["user"]:
            users = get_user_model().objects.filter(username__in=options["user"])
            credentials = credentials.filter(user__in=users)
        credentials = list(credentials)
        if not credentials:
            raise CommandError("no credential matches")
        accounts = [a for c in credentials for a in c.accounts_to_sync()
                    if not options["account"] or a.account_id in options["account"]]
        if not accounts:
            raise CommandError("no VOS account matches")
        days = days_between(start, end)

        interactive = self.stdout.isatty()
        progress = self._bar if interactive else self._line
        self.stdout.write(f"Syncing {len(days)} day(s) × {len(accounts)} account(s)…")
        results = sync_days(accounts=accounts, days=days, force=options["force"],
                            parallelism=options["parallel"], progress=progress)
        if interactive:
            self.stdout.write("")
        counts = {s: sum(1 for r in results if r.status == s) for s in (STORED, FRESH, FAILED, SKIPPED)}
        rows = sum(r.rows for r in results if r.status == STORED)
        rejected = sum(r.rejected for r in results if r.status == STORED)
        self.stdout.write(
            f"Done: {counts[STORED]} day(s) stored ({rows} calls, {rejected} rejected), "
            f"{counts[FRESH]} already fresh, {counts[FAILED]} failed."
        )
        for result in results:
            if result.status == FAILED:
                self.stderr.write(f"FAILED {result.account} {result.day}: {result.error.user_message()}")
        if counts[FAILED]:
            sys.exit(1)

    def _line(self, done, total, result):
        note = {STORED: f"{result.rows} calls" + (f", {result.rejected} rejected" if result.rejected else ""),
                FRESH: "fresh", SKIPPED: "skipped",
                FAILED: result.error.user_message() if result.error else "failed"}[result.status]
        self.stdout.write(f"[{done}/{total}] {result.account} {result.day}: {note}")

    def _bar(self, done, total, result):
        width = 30
        filled = width * done // total
        self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} days", ending="")
        self.stdout.flush()
