"""The sync service against the simulator: storing, replacing, freshness, failures."""

import threading
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from dashboard import sync
from dashboard.models import CallRecord, CallStats, SyncState
from dashboard.records import parse_records
from dashboard.simulator import generate_day
from tests.conftest import PLATFORM_USER, TOKEN

pytestmark = pytest.mark.django_db


def an_old_day():
    return timezone.localdate() - timedelta(days=10)


def test_it_stores_a_day_with_its_aggregates(account, sim):
    day = an_old_day()
    result = sync.sync_day(account=account, day=day)
    upstream = generate_day(PLATFORM_USER, 1, day, sim.config.calls_per_day)
    assert result.status == sync.STORED
    assert CallRecord.objects.filter(account=account, day=day).count() == len(upstream) == result.rows
    rows = CallRecord.objects.filter(account=account, day=day).aggregate(
        calls=Count("pk"), answered=Count("pk", filter=Q(talk_seconds__gt=0)),
        talk=Sum("talk_seconds"), fees=Sum("fee"))
    stats = CallStats.objects.filter(account=account, day=day).aggregate(
        calls=Sum("calls"), answered=Sum("answered"), talk=Sum("talk_seconds"), fees=Sum("fees"))
    assert rows == stats
    assert stats["fees"] == sum((Decimal(r["fee"]) for r in upstream), Decimal(0))
    state = SyncState.objects.get(account=account, day=day)
    assert state.rows_stored == result.rows and not state.failed


def test_it_stores_times_as_shanghai_wall_clock(account, sim):
    day = an_old_day()
    sync.sync_day(account=account, day=day)
    upstream = generate_day(PLATFORM_USER, 1, day, sim.config.calls_per_day)
    stored = CallRecord.objects.filter(account=account, day=day)
    as_shown = sorted(timezone.localtime(call.start).strftime("%Y-%m-%d %H:%M:%S") for call in stored)
    assert as_shown == sorted(record["start_time"] for record in upstream)
    assert str(timezone.localtime(stored[0].start).tzinfo) == "Asia/Shanghai"


def test_it_follows_pages_into_the_store(account, sim):
    sim.config.paging = "pages"
    sim.config.max_per_page = 60
    day = an_old_day()
    result = sync.sync_day(account=account, day=day)
    assert result.rows == len(generate_day(PLATFORM_USER, 1, day, sim.config.calls_per_day))
    assert sim.request_count(day=day) == -(-result.rows // 60)


def test_it_counts_bad_rows_and_stores_the_rest(account, sim):
    sim.set_faults(bad_rows={"count": 7})
    day = an_old_day()
    result = sync.sync_day(account=account, day=day)
    upstream = generate_day(PLATFORM_USER, 1, day, sim.config.calls_per_day)
    state = SyncState.objects.get(account=account, day=day)
    assert (result.rows, result.rejected) == (len(upstream) - 7, 7)
    assert state.rows_rejected == 7
    assert len(state.rejected_reasons) == 5
    assert CallRecord.objects.filter(account=account, day=day).count() == len(upstream) - 7


def test_it_keeps_identical_records_as_separate_calls(account):
    record = {"phone": "13800138000", "callee_phone": "02088886666",
              "start_time": "2024-03-05 09:08:44", "end_time": "2024-03-05 09:10:05",
              "hold_time": "00:01:11", "fee": Decimal("0.12"), "call_level_text": "市话",
              "customer_name": "vos", "customer_account": "1"}
    day = an_old_day()
    sync.replace_day(account=account, day=day, parsed=parse_records([record] * 3, day))
    assert CallRecord.objects.filter(account=account, day=day).count() == 3
    assert CallStats.objects.get(account=account, day=day).calls == 3


@pytest.mark.parametrize("fault", [{"status": {"code": 500}}, {"envelope_error": True},
                                   {"malformed": {"kind": "truncated"}}])
def test_it_keeps_stored_rows_when_a_refetch_fails(account, sim, fault, settings):
    settings.VOS_RETRIES = 0
    day = an_old_day()
    first = sync.sync_day(account=account, day=day)
    sim.set_faults(**fault)
    again = sync.sync_day(account=account, day=day, force=True)
    assert again.status == sync.FAILED
    assert CallRecord.objects.filter(account=account, day=day).count() == first.rows
    state = SyncState.objects.get(account=account, day=day)
    assert state.failed and state.rows_stored == first.rows
    assert again.error.user_message() == state.error_message


def test_it_keeps_stored_rows_when_the_paged_total_changes(account, sim):
    day = an_old_day()
    first = sync.sync_day(account=account, day=day)
    sim.config.paging = "pages"
    sim.config.max_per_page = 50
    sim.set_faults(changing_total={"extra": 4})
    again = sync.sync_day(account=account, day=day, force=True)
    assert again.status == sync.FAILED and again.error.kind == "incomplete"
    assert CallRecord.objects.filter(account=account, day=day).count() == first.rows


def test_it_rolls_back_a_replace_that_fails_half_way(account, sim):
    day = an_old_day()
    first = sync.sync_day(account=account, day=day)
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    # The new rows are inserted by then; the aggregates' write fails.
    with mock.patch.object(CallStats.objects, "bulk_create", side_effect=explode):
        with pytest.raises(RuntimeError):
            sync.sync_day(account=account, day=day, force=True)
    assert CallRecord.objects.filter(account=account, day=day).count() == first.rows
    assert CallStats.objects.filter(account=account, day=day).aggregate(n=Sum("calls"))["n"] == first.rows


def test_it_does_not_refetch_a_final_day(account, sim):
    day = an_old_day()
    sync.sync_days(accounts=[account], days=[day])
    results = sync.sync_days(accounts=[account], days=[day])
    assert results[0].status == sync.FRESH
    assert sim.request_count(day=day) == 1
    sync.sync_days(accounts=[account], days=[day], force=True)
    assert sim.request_count(day=day) == 2


def test_it_refetches_an_unfinished_day_only_after_its_ttl(account, sim, settings):
    today = timezone.localdate()
    settings.SYNC_TTL_SECONDS = 300
    sync.sync_days(accounts=[account], days=[today])
    sync.sync_days(accounts=[account], days=[today])
    assert sim.request_count(day=today) == 1
    SyncState.objects.filter(account=account, day=today).update(
        fetched_at=timezone.now() - timedelta(seconds=301))
    sync.sync_days(accounts=[account], days=[today])
    assert sim.request_count(day=today) == 2


def test_it_treats_a_day_fetched_soon_after_midnight_as_unfinished(account, sim):
    yesterday = timezone.localdate() - timedelta(days=1)
    sync.sync_day(account=account, day=yesterday)
    state = SyncState.objects.get(account=account, day=yesterday)
    late_billing = sync.day_end(yesterday) + timedelta(hours=1)
    state.fetched_at = late_billing
    assert not sync.is_final(state, yesterday)
    state.fetched_at = sync.day_end(yesterday) + timedelta(hours=7)
    assert sync.is_final(state, yesterday)


def test_it_reports_progress_for_every_day(account, sim):
    days = [an_old_day() - timedelta(days=n) for n in range(3)]
    seen = []
    sync.sync_days(accounts=[account], days=days, parallelism=1,
                   progress=lambda done, total, result: seen.append((done, total, result.day)))
    assert [(done, total) for done, total, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert {day for *_, day in seen} == set(days)


def test_it_reports_an_undecryptable_token_without_fetching(account, sim, settings):
    from cryptography.fernet import Fernet

    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    results = sync.sync_days(accounts=[account], days=[an_old_day()])
    assert results[0].status == sync.FAILED and results[0].error.kind == "token"
    assert sim.request_count() == 0


@pytest.mark.django_db(transaction=True)
def test_it_stores_a_day_once_when_two_syncs_race(account, sim, settings):
    settings.SYNC_PARALLELISM = 4
    day = an_old_day()
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(sync.sync_day(account=account, day=day, force=True))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in results] == [sync.STORED, sync.STORED]
    assert CallRecord.objects.filter(account=account, day=day).count() == results[0].rows
    assert CallStats.objects.filter(account=account, day=day).aggregate(n=Sum("calls"))["n"] == results[0].rows


@pytest.mark.django_db(transaction=True)
def test_it_syncs_a_range_in_parallel(account, sim):
    days = [an_old_day() - timedelta(days=n) for n in range(6)]
    results = sync.sync_days(accounts=[account], days=days, parallelism=3)
    assert [r.status for r in results] == [sync.STORED] * 6
    assert [r.day for r in results] == sorted(days)
    for result in results:
        assert CallRecord.objects.filter(account=account, day=result.day).count() == result.rows


def test_it_logs_no_token_during_a_sync_with_faults(account, sim, all_logs, settings):
    settings.VOS_RETRIES = 1
    days = [an_old_day() - timedelta(days=n) for n in range(4)]
    sync.sync_days(accounts=[account], days=days[:1])
    for fault in ({"status": {"code": 502}}, {"malformed": {"kind": "html"}}, {"bad_rows": 3}):
        sim.reset()
        sim.set_faults(**fault)
        sync.sync_days(accounts=[account], days=days, force=True)
    assert len(all_logs.records) > 5
    for record in all_logs.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in str(record.args)


def test_the_command_prints_a_summary_and_fails_when_a_day_failed(account, sim, capsys):
    day = an_old_day()
    call_command("sync_calls", "--from", str(day - timedelta(days=1)), "--to", str(day))
    out = capsys.readouterr().out
    assert "2 day(s) stored" in out and "0 failed" in out
    sim.set_faults(envelope_error={"message": "账号已停用"})
    with pytest.raises(SystemExit) as exit_info:
        call_command("sync_calls", "--from", str(day), "--force")
    captured = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "1 failed" in captured.out
    assert "账号已停用" in captured.err
    assert CallRecord.objects.filter(account=account, day=day).exists()
