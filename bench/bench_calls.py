"""The calls page with 30 days × 100,000 calls stored on SQLite (built through the
simulator and the real sync path, kept in bench/data/ between runs).

    .venv/bin/python bench/bench_calls.py [--runs 9]

Server time is the time Django's test client takes for the whole request in-process
(middleware, queries, template), without a network hop.
"""

import argparse
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DAYS = 30
CALLS = 100_000
LAST_DAY = date(2026, 3, 31)


def build(account) -> None:
    from dashboard.models import SyncState
    from dashboard.sync import FAILED, sync_days

    days = [LAST_DAY - timedelta(days=n) for n in range(DAYS)]
    stored = SyncState.objects.filter(account=account, day__in=days, fetched_at__isnull=False).count()
    if stored == DAYS:
        return
    started = time.perf_counter()
    results = sync_days(accounts=[account], days=days, parallelism=2,
                        progress=lambda done, total, r: print(f"\rbuilding {done}/{total} days", end="", flush=True))
    print(f"\rbuilt {DAYS} days in {time.perf_counter() - started:.0f} s")
    failed = [r for r in results if r.status == FAILED]
    if failed:
        raise SystemExit(f"building failed: {failed[0].error}")


def time_page(client, url: str, params: dict, runs: int) -> tuple[dict, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, params)  # warm the page cache of SQLite and Django's templates
    samples = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, params)
            samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    rows = response.content.count(b"<tr ") + response.content.count(b"<tr>") - 1  # less the header
    return common.summarise(samples), len(queries), rows


def export_in_subprocess(account_pk: int, day: date) -> dict:
    """CSV export of one day in a fresh process: wall time and peak RSS above idle."""
    code = f"""
import sys, time
sys.path.insert(0, {str(common.ROOT)!r}); sys.path.insert(0, {str(common.ROOT / 'bench')!r})
import common
common.setup_django("bench_calls.sqlite3")
from django.contrib.auth import get_user_model
from django.test import Client
client = Client(); client.force_login(get_user_model().objects.get(username="bench"))
client.get("/calls/", {{"account": {account_pk}, "date_from": "{day}", "caller": "x"}})
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
idle = status("VmRSS:")
started = time.perf_counter()
response = client.get("/calls/export.csv", {{"account": {account_pk}, "date_from": "{day}"}})
size = rows = 0
for chunk in response.streaming_content:
    size += len(chunk); rows += chunk.count(b"\\n")
seconds = time.perf_counter() - started
peak = status("VmHWM:")
print(seconds, (peak - idle) / 1024, rows - 1, size)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=common.ROOT).stdout.split()
    return {"seconds": float(out[0]), "peak_mb": float(out[1]), "rows": int(out[2]), "bytes": int(out[3])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    common.setup_django("bench_calls.sqlite3")
    from django.test import Client

    with common.Simulator(calls_per_day=CALLS) as simulator:
        user, account = common.bench_account(simulator)
        build(account)
    # The simulator is gone: pages read the store only (final days are never re-fetched).
    from dashboard.models import CallRecord

    client = Client()
    client.force_login(user)
    day = str(LAST_DAY)
    day_rows = CallRecord.objects.filter(account=account, day=LAST_DAY).count()
    total_rows = CallRecord.objects.filter(account=account).count()
    base = {"account": account.pk, "date_from": day}
    cases = [
        ("one day, caller begins-with 138, fee desc, page 1", {**base, "caller": "138", "caller_match": "begins", "sort": "-fee"}, 100),
        ("one day, unfiltered, start asc, page 1", {**base, "sort": "start"}, 100),
        ("one day, unfiltered, start asc, page 500", {**base, "sort": "start", "page": 500}, 100),
        ("one day, callee contains 8888", {**base, "callee": "8888"}, 300),
        ("one day, callee ends-with 1234", {**base, "callee": "1234", "callee_match": "ends"}, 300),
        ("7 days, caller begins-with 1391, start asc", {**base, "date_from": str(LAST_DAY - timedelta(days=6)), "date_to": day, "caller": "1391", "caller_match": "begins"}, None),
    ]
    rows_out = []
    for name, params, target in cases:
        figures, queries, shown = time_page(client, "/calls/", params, args.runs)
        verdict = "" if target is None else ("yes" if figures["median"] <= target else "NO")
        rows_out.append([name, f"{figures['median']:.1f}", f"{figures['p95']:.1f}", queries,
                         shown, f"≤ {target}" if target else "-", verdict])
    export = export_in_subprocess(account.pk, LAST_DAY)
    rows_out.append([f"CSV export of the day ({export['rows']:,} rows, {export['bytes'] / 1e6:.1f} MB)",
                     f"{export['seconds'] * 1000:.0f}", "-", "-", "-", "≤ 3000 ms, < 150 MB",
                     f"{export['peak_mb']:.0f} MB above idle; " +
                     ("yes" if export["seconds"] <= 3 and export["peak_mb"] < 150 else "NO")])
    common.print_table(
        f"Calls page, {total_rows:,} calls stored ({day_rows:,} on the day) — {common.machine()}",
        ["case", "median ms", "p95 ms", "queries", "rows shown", "target", "met"], rows_out)
    return rows_out


if __name__ == "__main__":
    main()
