"""Shared set-up for the benchmarks: a SQLite file of their own, the simulator in its own
process (so it does not share our GIL), a bench user with a credential, and figures."""

import os
import platform
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
PLATFORM_USER = "5832d184-dd53-42a0-8ace-0bf8d660f4cc"


def setup_django(db_name: str) -> None:
    """Point Django at bench/data/<db_name> (before anything imports settings) and migrate."""
    DATA.mkdir(parents=True, exist_ok=True)
    os.environ["SQLITE_PATH"] = str(DATA / db_name)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Simulator:
    """`manage.py vos_simulator` in a subprocess, for the life of a `with` block."""

    def __init__(self, *, calls_per_day: int, paging: str = "list", token: str | None = None):
        self.port = free_port()
        self.token = token or secrets.token_urlsafe(24)
        self.base_url = f"http://127.0.0.1:{self.port}/agent-api"
        self.args = [sys.executable, str(ROOT / "manage.py"), "vos_simulator", "--port", str(self.port),
                     "--calls-per-day", str(calls_per_day), "--paging", paging]

    def __enter__(self):
        env = {**os.environ, "VOS_SIMULATOR_USERS": f"{PLATFORM_USER}:{self.token}"}
        self.process = subprocess.Popen(self.args, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("the simulator did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=10)


def bench_account(simulator: Simulator, account_id: int = 1, username: str = "bench"):
    """The bench user's credential pointed at this simulator (token rotated each run)."""
    from django.contrib.auth import get_user_model

    from dashboard.models import Credential, VosAccount

    user, _ = get_user_model().objects.get_or_create(username=username)
    credential = Credential.objects.filter(user=user).first() or Credential(user=user, label="bench")
    credential.base_url = simulator.base_url
    credential.platform_user_id = PLATFORM_USER
    credential.set_token(simulator.token)
    credential.save()
    account, _ = VosAccount.objects.get_or_create(credential=credential, account_id=account_id)
    return user, account


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"SQLite {sqlite3.sqlite_version}; {platform.system()} {platform.release()}")


def summarise(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "min": ordered[0],
            "max": ordered[-1], "runs": len(ordered)}


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n## {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
