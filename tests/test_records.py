from datetime import date
from decimal import Decimal

import pytest

from dashboard.records import RecordError, parse_record, parse_records

DAY = date(2024, 3, 5)


def record(**overrides):
    base = {"phone": "13800138000", "callee_phone": "02088886666",
            "start_time": "2024-03-05 09:08:44", "end_time": "2024-03-05 09:10:05",
            "hold_time": "00:01:11", "fee": Decimal("0.12"), "call_level_text": "市话",
            "customer_name": "vos", "customer_account": "12312312"}
    base.update(overrides)
    return base


def test_it_reads_a_record_into_typed_values():
    row = parse_record(record())
    assert row.caller == "13800138000"
    assert row.start == "2024-03-05 09:08:44"
    assert row.talk_seconds == 71
    assert row.fee_micros == 120_000
    assert row.call_level == "市话"


def test_it_reads_talk_time_beyond_24_hours():
    assert parse_record(record(hold_time="25:00:01")).talk_seconds == 90_001


@pytest.mark.parametrize("fee, micros", [(0, 0), ("0.12", 120_000), (Decimal("1.8"), 1_800_000),
                                         (Decimal("-0.5"), -500_000)])
def test_it_reads_fees_exactly(fee, micros):
    assert parse_record(record(fee=fee)).fee_micros == micros


def test_it_normalises_prefixed_numbers_for_search():
    row = parse_record(record(phone="+86 138-0013-8000", callee_phone="008613900001111"))
    assert row.caller == "+86 138-0013-8000"
    assert row.caller_key == "13800138000"
    assert row.callee_key == "13900001111"


@pytest.mark.parametrize("bad, reason", [
    ("not a dict", "not an object"),
    ({k: v for k, v in record().items() if k != "phone"}, "phone is missing"),
    (record(fee=None), "fee is null"),
    (record(fee="abc"), "fee"),
    (record(fee=0.1), "fee is not a number"),
    (record(fee=Decimal("0.1234567")), "decimal places"),
    (record(start_time="2024-13-45 99:00:00"), "start_time is not a valid time"),
    (record(start_time="2024-03-05"), "start_time is not YYYY-MM-DD HH:MM:SS"),
    (record(hold_time="xx"), "hold_time"),
    (record(hold_time="00:75:00"), "hold_time"),
    (record(phone=""), "phone is empty"),
    (record(customer_name="x" * 300), "longer than"),
])
def test_it_rejects_a_bad_record_with_a_reason(bad, reason):
    with pytest.raises(RecordError, match=reason):
        parse_record(bad)


def test_it_counts_rejected_records_and_keeps_the_good_ones():
    records = [record(), "junk", record(fee="abc"), record(), record(start_time=None)] + ["x"] * 10
    parsed = parse_records(records, DAY)
    assert len(parsed.rows) == 2
    assert parsed.rejected == 13
    assert len(parsed.reasons) == 5
    assert parsed.reasons[0].startswith("#2: not an object")


def test_it_keeps_identical_records_as_separate_calls():
    parsed = parse_records([record(), record(), record()], DAY)
    assert len(parsed.rows) == 3
