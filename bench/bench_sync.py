"""Fetch + parse + store of a 100,000-call day from the simulator over loopback, both
answer shapes, on SQLite, through the real sync path (dashboard.sync.sync_day).

    .venv/bin/python bench/bench_sync.py [--runs 5]
"""

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TARGET_SECONDS = 2.0
CALLS = 100_000


def calls_per_day_for(day: date) -> int:
    """The simulator varies volume by day: scale it so that `day` has ~100,000 calls."""
    from dashboard.simulator import build_day

    rows = len(build_day(common.PLATFORM_USER, 1, day, CALLS, 0).rows)
    return round(CALLS * CALLS / rows)


def main(argv=None) -> list[list]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    common.setup_django("bench_sync.sqlite3")
    from dashboard.models import CallRecord, SyncState
    from dashboard.sync import STORED, client_for, sync_day

    day = date(2026, 3, 2)
    volume = calls_per_day_for(day)
    rows_out = []
    for paging in ("list", "pages"):
        with common.Simulator(calls_per_day=volume, paging=paging) as simulator:
            _user, account = common.bench_account(simulator)
            CallRecord.objects.filter(account=account).delete()
            SyncState.objects.filter(account=account).delete()
            new_day, replace, counts = [], [], []
            with client_for(account.credential) as client:
                # Untimed: the simulator builds and caches the day on first request.
                client.fetch_day(day, account_id=account.account_id)
                for _run in range(args.runs):
                    CallRecord.objects.filter(account=account, day=day).delete()
                    SyncState.objects.filter(account=account, day=day).delete()
                    for samples in (new_day, replace):
                        started = time.perf_counter()
                        result = sync_day(account=account, day=day, client=client, force=True)
                        samples.append(time.perf_counter() - started)
                        assert result.status == STORED, result.error
                    counts.append(result.rows)
            for case, samples in (("new day", new_day), ("replace a stored day", replace)):
                figures = common.summarise(samples)
                rows_out.append([paging, case, f"{min(counts):,}–{max(counts):,}",
                                 f"{figures['median']:.2f}", f"{figures['min']:.2f}",
                                 f"{figures['max']:.2f}", figures["runs"],
                                 "yes" if figures["median"] <= TARGET_SECONDS else "NO"])
    common.print_table(
        f"Sync of a ~100k-call day (fetch + parse + store, SQLite) — {common.machine()}",
        ["answer shape", "case", "rows", "median s", "min s", "max s", "runs", f"≤ {TARGET_SECONDS} s"],
        rows_out)
    return rows_out


if __name__ == "__main__":
    main()
