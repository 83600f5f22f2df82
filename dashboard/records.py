"""Turning the platform's raw records into typed call rows, one bad record at a time.

A record that cannot be read is rejected with a reason, never stored half-right and never
dropped silently: the caller counts rejections and keeps the first few reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from dashboard.money import to_micros
from dashboard.phone import number_key

KEEP_REASONS = 5


class RecordError(ValueError):
    pass


class CallRow(NamedTuple):
    """One readable call. start/end stay the switch's validated wall-clock text
    ("YYYY-MM-DD HH:MM:SS", Asia/Shanghai): the store converts them in one step for
    its database, which is cheaper than building 200k datetime objects a busy day."""

    caller: str
    callee: str
    caller_key: str
    callee_key: str
    start: str
    end: str
    talk_seconds: int
    fee_micros: int
    call_level: str
    customer_name: str
    customer_account: str


@dataclass
class ParsedDay:
    rows: list[CallRow] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


def parse_records(records: list, day: date) -> ParsedDay:
    """Typed rows of one day plus the count and first reasons of rejected records."""
    parsed = ParsedDay()
    append = parsed.rows.append
    for index, record in enumerate(records):
        try:
            append(parse_record(record))
        except RecordError as exc:
            parsed.rejected += 1
            if len(parsed.reasons) < KEEP_REASONS:
                parsed.reasons.append(f"#{index + 1}: {exc}")
    return parsed


def parse_record(record) -> CallRow:
    """One record → CallRow; raises RecordError with a short reason.

    This runs 100,000 times for a busy day, so the common case is written flat.
    """
    if type(record) is not dict:
        raise RecordError(f"not an object but {type(record).__name__}")
    try:
        caller, callee = record["phone"], record["callee_phone"]
        start, end = record["start_time"], record["end_time"]
        hold, fee = record["hold_time"], record["fee"]
        level, name, account = record["call_level_text"], record["customer_name"], record["customer_account"]
    except KeyError as exc:
        raise RecordError(f"{exc.args[0]} is missing") from None
    caller = _text("phone", caller, 64, nullable=False)
    if not caller:
        raise RecordError("phone is empty")
    callee = _text("callee_phone", callee, 64, nullable=False)
    return CallRow(
        caller,
        callee,
        caller if caller.isdigit() and caller[:4] != "0086" else number_key(caller),
        callee if callee.isdigit() and callee[:4] != "0086" else number_key(callee),
        _time("start_time", start),
        _time("end_time", end),
        _hold_time(hold),
        _fee(fee),
        _text("call_level_text", level, 64),
        _text("customer_name", name, 255),
        _text("customer_account", account, 64),
    )


def _text(name: str, value, limit: int, nullable: bool = True) -> str:
    if type(value) is not str:
        if value is None:
            if nullable:
                return ""
            raise RecordError(f"{name} is null")
        if type(value) is not int:
            raise RecordError(f"{name} is not text")
        value = str(value)
    if len(value) > limit:
        raise RecordError(f"{name} is longer than {limit} characters")
    return value


def _time(name: str, value) -> str:
    # fromisoformat alone would also take dates, "T" separators and offsets.
    if type(value) is not str or len(value) != 19 or value[10] != " ":
        if value is None:
            raise RecordError(f"{name} is null")
        raise RecordError(f"{name} is not YYYY-MM-DD HH:MM:SS: {str(value)[:30]!r}")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name} is not a valid time: {value!r}") from None
    return value


def _hold_time(value) -> int:
    if type(value) is str:
        parts = value.split(":")
        if len(parts) == 3:
            hours, minutes, seconds = parts
            if (hours + minutes + seconds).isdigit() and len(minutes) == len(seconds) == 2:
                minutes, seconds = int(minutes), int(seconds)
                if minutes < 60 and seconds < 60:
                    return int(hours) * 3600 + minutes * 60 + seconds
    if value is None:
        raise RecordError("hold_time is null")
    raise RecordError(f"hold_time is not HH:MM:SS: {str(value)[:30]!r}")


def _fee(value) -> int:
    if type(value) is int:
        return value * 1_000_000
    if value is None:
        raise RecordError("fee is null")
    if isinstance(value, bool) or not isinstance(value, (Decimal, str)):
        # The client decodes JSON numbers as Decimal, so a float here means a caller
        # bypassed it: refuse rather than store a rounded amount.
        raise RecordError(f"fee is not a number: {str(value)[:30]!r}")
    try:
        return to_micros(value)
    except ValueError as exc:
        raise RecordError(f"fee {str(value)[:30]!r}: {exc}") from None
