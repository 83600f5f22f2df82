"""Benchmark: the charts page over a year of stored days, on SQLite.

    .venv/bin/python bench/bench_charts.py [--runs 15]

The data goes in through the real sync path (the simulator over HTTP, sync.sync_days)
into bench/data/charts.sqlite3 and is kept: later runs only fetch the days not stored
yet. Both the 365-day range and the 365 days before it are stored, so the page also
runs its previous-period comparison. Requests go through django.test.Client, logged in;
times are server time (no network, no browser).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DB_PATH = common.DATA / "charts.sqlite3"
DAYS = 365
CALLS_PER_DAY = 2000
USERNAME = "bench-charts"
PLATFORM_USER = "5832d184-dd53-42a0-8ace-0bf8d660f4cc"
TOKEN = "bench-charts-token-0123456789abcdef"
TARGET_MS = 100


def stored_account(days):
    """The benchmark's account with every day stored, syncing only the missing ones."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from dashboard import sync
    from dashboard.models import Credential, SyncState, VosAccount
    from dashboard.simulator import SimulatorConfig, start_simulator

    user, _created = get_user_model().objects.get_or_create(username=USERNAME)
    credential = Credential.objects.filter(user=user).first()
    if credential is None:
        credential = Credential(user=user, label="Bench platform", platform_user_id=PLATFORM_USER,
                                base_url="http://127.0.0.1:9/agent-api")
        credential.set_token(TOKEN)
        credential.save()
        VosAccount.objects.create(credential=credential, account_id=1, label="Bench account")
    account = credential.accounts.get()
    stored = set(SyncState.objects.filter(account=account, fetched_at__isnull=False)
                 .values_list("day", flat=True))
    missing = [day for day in days if day not in stored]
    if not missing:
        return user, account, 0.0
    print(f"Storing {len(missing)} days of {CALLS_PER_DAY} calls through the sync path…",
          flush=True)
    simulator = start_simulator(SimulatorConfig(users={PLATFORM_USER: TOKEN},
                                                calls_per_day=CALLS_PER_DAY))
    try:
        Credential.objects.filter(pk=credential.pk).update(base_url=simulator.base_url)
        account.credential.refresh_from_db()
        started = time.perf_counter()
        results = sync.sync_days(accounts=[account], days=missing)
        seconds = time.perf_counter() - started
    finally:
        simulator.stop()
    failed = [result for result in results if result.status != sync.STORED]
    if failed:
        raise RuntimeError(f"{len(failed)} days did not store, e.g. {failed[0]}")
    return user, account, seconds


def measure(client, url: str, runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _warm_up in range(2):
        assert client.get(url).status_code == 200
    times, queries = [], []
    for _run in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        queries.append(len(captured))
    figures = common.summarise(times)
    return {"median_ms": figures["median"], "p95_ms": figures["p95"],
            "queries": max(queries), "bytes": len(response.content)}


def measure_data(account, start, end, runs: int) -> dict:
    """The figures and the chart data alone, without the table and the template."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from dashboard import chart_display, charts

    times = []
    for _run in range(runs + 2):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            page = charts.chart_page(account=account, start=start, end=end, now=timezone.now())
            chart_display.chart_data(page, urls={}, batch_days=3, text={})
            times.append((time.perf_counter() - started) * 1000)
    figures = common.summarise(times[2:])
    return {"median_ms": figures["median"], "p95_ms": figures["p95"],
            "queries": len(captured), "bytes": 0}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per figure (≥ 7)")
    args = parser.parse_args(argv)
    runs = max(args.runs, 7)
    common.setup_django(DB_PATH.name)

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from dashboard.models import CallRecord, CallStats

    end = timezone.localdate() - timedelta(days=1)
    start = end - timedelta(days=DAYS - 1)
    days = [start - timedelta(days=DAYS - n) for n in range(2 * DAYS)]  # previous + range
    user, account, sync_seconds = stored_account(days)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    query = f"account={account.pk}&date_from={start}&date_to={end}"
    figures = {
        f"charts page, {DAYS} days": measure(client, f"{reverse('charts')}?{query}", runs),
        "charts page, default 30 days": measure(
            client, f"{reverse('charts')}?account={account.pk}", runs),
        f"daily CSV, {DAYS} days": measure(
            client, f"{reverse('charts-export-csv')}?{query}", runs),
        f"figures + chart data only, {DAYS} days": measure_data(account, start, end, runs),
    }

    print(f"\nCharts page benchmark: {DAYS} days {start}…{end} (+ the {DAYS} before), "
          f"{CallStats.objects.filter(account=account).count():,} CallStats rows, "
          f"{CallRecord.objects.filter(account=account).count():,} calls; "
          f"median of {runs} runs")
    if sync_seconds:
        print(f"(stored the missing days in {sync_seconds:.1f} s this run)")
    print(f"{'figure':<38} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for name, result in figures.items():
        print(f"{name:<38} {result['median_ms']:>10.1f} {result['p95_ms']:>8.1f} "
              f"{result['queries']:>8}")
    headline = figures[f"charts page, {DAYS} days"]["median_ms"]
    print(f"target: ≤ {TARGET_MS} ms median for the {DAYS}-day page: "
          f"{'met' if headline <= TARGET_MS else 'NOT met'}")
    print(f"machine: {common.machine()}")
    return {"figures": figures, "machine": common.machine(), "sync_seconds": sync_seconds}


if __name__ == "__main__":
    main()
