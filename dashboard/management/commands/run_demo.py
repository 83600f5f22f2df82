"""`make run`: migrate, a demo login and credential, the simulator, a first week synced,
then the dashboard. Local use only."""

import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dashboard.models import Credential, VosAccount
from dashboard.sync import FAILED, days_between, sync_days

DEMO_USERNAME = "demo"
DEMO_PLATFORM_USER = "5832d184-dd53-42a0-8ace-0bf8d660f4cc"


class Command(BaseCommand):
    help = "Run the dashboard locally against the simulator with a demo login (never in production)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8765)
        parser.add_argument("--calls-per-day", type=int, default=3000)
        parser.add_argument("--days", type=int, default=7, help="days to sync before starting")

    def handle(self, *args, **options):
        port, sim_port = options["port"], options["simulator_port"]
        for taken in (port, sim_port):
            if _port_in_use(taken):
                raise CommandError(f"port {taken} is in use; pass PORT=… / SIM_PORT=… to make run")
        call_command("migrate", interactive=False, verbosity=0)
        password = secrets.token_urlsafe(9)
        token = secrets.token_urlsafe(32)
        user = self._demo_user(password)
        credential = self._demo_credential(user, token, f"http://127.0.0.1:{sim_port}/agent-api")

        env = {**os.environ, "VOS_SIMULATOR_USERS": f"{DEMO_PLATFORM_USER}:{token}"}
        simulator = subprocess.Popen(
            [sys.executable, "manage.py", "vos_simulator", "--port", str(sim_port),
             "--calls-per-day", str(options["calls_per_day"])],
            env=env, stdout=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(sim_port)
            self._first_sync(credential, options["days"])
            self.stdout.write(self.style.SUCCESS(
                f"\nDashboard: http://127.0.0.1:{port}/\n"
                f"Log in as: {DEMO_USERNAME} / {password}\n"
                f"Simulator: http://127.0.0.1:{sim_port}/agent-api\n"
            ))
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        finally:
            simulator.terminate()
            simulator.wait(timeout=10)

    def _demo_user(self, password):
        user, _created = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return user

    def _demo_credential(self, user, token, base_url):
        credential = Credential.objects.filter(user=user, label="Demo (simulator)").first()
        credential = credential or Credential(user=user, label="Demo (simulator)")
        credential.base_url = base_url
        credential.platform_user_id = DEMO_PLATFORM_USER
        credential.set_token(token)
        credential.save()
        for account_id, label in [(1, "主账户"), (2, "Sales line")]:
            VosAccount.objects.get_or_create(credential=credential, account_id=account_id,
                                             defaults={"label": label})
        return credential

    def _first_sync(self, credential, days):
        yesterday = timezone.localdate() - timedelta(days=1)
        wanted = days_between(yesterday - timedelta(days=days - 1), yesterday)

        def progress(done, total, result):
            self.stdout.write(f"\rSyncing the last {days} days from the simulator: {done}/{total}", ending="")
            self.stdout.flush()

        results = sync_days(accounts=credential.accounts_to_sync(), days=wanted, progress=progress)
        self.stdout.write("")
        for result in results:
            if result.status == FAILED:
                self.stderr.write(f"{result.day}: {result.error.user_message()}")


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_in_use(port):
            return
        time.sleep(0.1)
    raise CommandError(f"the simulator did not start on port {port}")
