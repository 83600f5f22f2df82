"""Serve the upstream simulator (dashboard/simulator.py) until Ctrl-C.

    manage.py vos_simulator --port 8765 --user 5832d184-…:SECRET --paging pages

Users also come from VOS_SIMULATOR_USERS="uuid:token,uuid2:token2". Tokens are never printed.
"""

import os
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from dashboard.simulator import DEMO_USER_ID, SimulatorConfig, start_simulator


def parse_users(specs) -> dict[str, str]:
    """["uuid:token", …] -> {uuid: token}; raises ValueError naming the bad entry (not its token)."""
    users = {}
    for position, spec in enumerate(specs, 1):
        user_id, sep, token = spec.strip().partition(":")
        if not sep or not user_id.strip() or not token.strip():
            raise ValueError(f"user #{position} must be written UUID:TOKEN")
        users[user_id.strip()] = token.strip()
    return users


class Command(BaseCommand):
    help = "Serve a simulator of the upstream VOS call-record API over HTTP (for demos and benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--user", action="append", default=[], metavar="UUID:TOKEN",
                            help="a user and its bearer token; repeatable (also VOS_SIMULATOR_USERS)")
        parser.add_argument("--calls-per-day", type=int, default=2000)
        parser.add_argument("--paging", choices=("list", "pages"), default="list")
        parser.add_argument("--per-page", type=int, default=500, help="per_page when the client sends none")
        parser.add_argument("--max-per-page", type=int, default=1000, help="cap on a requested per_page")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        env = [s for s in os.environ.get("VOS_SIMULATOR_USERS", "").split(",") if s.strip()]
        try:
            users = parse_users(env + options["user"])
            config_kwargs = {"users": users} if users else {}
            config = SimulatorConfig(
                calls_per_day=options["calls_per_day"], paging=options["paging"],
                default_per_page=options["per_page"], max_per_page=options["max_per_page"],
                seed=options["seed"], **config_kwargs,
            )
        except ValueError as exc:  # SimulatorConfig names the bad option; never echo a token
            raise CommandError(str(exc)) from None
        try:
            sim = start_simulator(config, host=options["host"], port=options["port"])
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from None

        self.stdout.write(sim.base_url)
        if not users:
            self.stdout.write(f"no --user given: serving the demo user {DEMO_USER_ID} "
                              "(its token is DEMO_TOKEN in dashboard/simulator.py)")
        for user_id in sorted(config.users):
            self.stdout.write(f"user {user_id}: accounts 1..{config.accounts}")
        self.stdout.write(f"{config.calls_per_day} calls/day, paging={config.paging}; "
                          f"control: {sim.base_url.rsplit('/agent-api', 1)[0]}/_sim/stats. Ctrl-C to stop.")
        self.stdout.flush()
        stop = threading.Event()
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
        try:
            while not stop.wait(0.5):  # the server runs in its own thread; Ctrl-C lands here
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
            sim.stop()
            self.stdout.write("simulator stopped")
