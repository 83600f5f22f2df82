"""What the upstream simulator (dashboard/simulator.py) serves: deterministic, realistic
call records (话单), the fault switches, and the damage those faults do to a day.

Stdlib only, no Django: the simulator runs in a bare process and in test threads.
Everything is derived from sha256(f"{user_id}|{account}|{day}|{seed}"), so the same
inputs always give the same rows, in the same order, serialised to the same bytes.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
DAY_SECONDS = 86_400

# (label, share %, rate per started minute in 1/10000 yuan). An open set upstream;
# these are the common VOS3000 classes.
CALL_LEVELS = (
    ("市话", 45, 600),
    ("国内长途", 35, 1200),
    ("移动电话", 17, 1000),
    ("国际长途", 2, 18000),
    ("港澳台", 1, 9500),
)
_LEVEL_CUM = [sum(share for _, share, _ in CALL_LEVELS[: i + 1]) for i in range(len(CALL_LEVELS))]

# Relative call volume per hour of the day: quiet at night, peaks at 10:00 and 15:00.
_HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 4, 10, 30, 60, 80, 70, 45, 40, 60, 75, 65, 50, 30, 20, 15, 10, 6, 3)
_HOUR_CUM = [sum(_HOUR_WEIGHTS[: i + 1]) for i in range(24)]

ANSWER_RATE = 0.6
LONG_CALL_RATE = 0.0002  # a call of several hours
WEEKEND_FACTOR = 0.7
DUPLICATE_RATE = 0.0005

_MOBILE_PREFIXES = tuple(
    [f"13{d}" for d in range(10)]
    + [f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)]
    + ["170", "171", "173", "175", "176", "177", "178"]
    + [f"18{d}" for d in range(10)]
    + ["191", "195", "198", "199"]
)
_CITIES = (
    ("010", "北京"), ("021", "上海"), ("020", "广州"), ("0755", "深圳"), ("0571", "杭州"),
    ("025", "南京"), ("028", "成都"), ("027", "武汉"), ("029", "西安"), ("023", "重庆"),
    ("0512", "苏州"), ("0532", "青岛"),
)
_BRANDS = ("华信", "中联", "恒通", "金桥", "鼎盛", "天元", "博远", "安达", "瑞丰", "宏图", "新元", "汇智")
_TRADES = ("通信科技", "网络技术", "信息服务", "电子商务", "商贸", "物流", "教育咨询", "电话营销")
# (country code, national number length)
_INTERNATIONAL = (("1", 10), ("44", 10), ("81", 10), ("82", 9), ("65", 8), ("60", 9), ("61", 9), ("49", 10))
_HK_MO_TW = (("852", 8), ("853", 8), ("886", 9))

ROW_FIELDS = (
    "phone", "callee_phone", "start_time", "end_time", "hold_time", "fee",
    "call_level_text", "customer_name", "customer_account",
)


def day_seed(*parts) -> int:
    """A 128-bit integer seed from sha256 of the parts joined with '|'."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:16], "big")


@lru_cache(maxsize=1)
def _hms_table() -> tuple[str, ...]:
    # "HH:MM:SS" for every second of a day: formatting becomes a lookup (100k rows fast).
    return tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))


def hold_text(seconds: int) -> str:
    """Talk time as HH:MM:SS; hours past 24 just grow (e.g. "25:00:01")."""
    if seconds < DAY_SECONDS:
        return _hms_table()[seconds]
    h, rest = divmod(seconds, 3600)
    return f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}"


@lru_cache(maxsize=4096)
def _fee(units: int) -> Decimal | int:
    """Fee from 1/10000-yuan units: int 0 when free, else a Decimal with no trailing zeros."""
    if units == 0:
        return 0
    text = f"{units // 10000}.{units % 10000:04d}".rstrip("0").rstrip(".")
    return Decimal(text)


def _mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _landline(rng: random.Random, area: str) -> str:
    # Four-digit area codes (0755) go with 7- or 8-digit numbers, three-digit with 8.
    digits = 8 if len(area) == 3 or rng.random() < 0.5 else 7
    return area + str(rng.randint(2, 8)) + f"{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"


def _international(rng: random.Random, table) -> str:
    cc, length = rng.choice(table)
    return "00" + cc + str(rng.randint(2, 9)) + f"{rng.randrange(10 ** (length - 1)):0{length - 1}d}"


def _maybe_prefixed(rng: random.Random, number: str) -> str:
    """About 5% of domestic numbers are written internationally: +86… or 0086…."""
    if rng.random() >= 0.05:
        return number
    national = number[1:] if number.startswith("0") else number
    return ("+86" if rng.random() < 0.5 else "0086") + national


@dataclass(frozen=True)
class AccountProfile:
    """What stays the same for one VOS account across days: city, customers, regulars."""

    area: str
    customers: tuple[tuple[str, str], ...]  # (customer_name, customer_account)
    customer_cum: tuple[int, ...]
    regular_callers: tuple[str, ...]


@lru_cache(maxsize=256)
def account_profile(user_id: str, account: int, seed: int) -> AccountProfile:
    """The account's city, a handful of customers (skewed share) and repeat callers."""
    rng = random.Random(day_seed(user_id, account, "profile", seed))
    area, _ = rng.choice(_CITIES)
    names, customers, wanted = set(), [], rng.randint(3, 6)
    while len(customers) < wanted:
        _, city = rng.choice(_CITIES)
        name = f"{city}{rng.choice(_BRANDS)}{rng.choice(_TRADES)}有限公司"
        if name not in names:
            names.add(name)
            customers.append((name, str(rng.randrange(10**7, 10**8))))
    weights = [int(100 / (i + 1)) for i in range(len(customers))]  # first customer dominates
    cum = tuple(sum(weights[: i + 1]) for i in range(len(weights)))
    regulars = tuple(
        _mobile(rng) if rng.random() < 0.7 else _landline(rng, area) for _ in range(rng.randint(20, 40))
    )
    return AccountProfile(area, tuple(customers), cum, regulars)


def day_volume(rng: random.Random, day: date, calls_per_day: int) -> int:
    """calls_per_day varied ±15% per day, lower at weekends."""
    factor = 0.85 + 0.30 * rng.random()
    if day.weekday() >= 5:
        factor *= WEEKEND_FACTOR
    return max(0, round(calls_per_day * factor))


@dataclass
class DayRows:
    """A whole generated day, ordered by end time (CDRs are written at hang-up), so the
    part of a day that has happened by some moment is a prefix of `rows`."""

    day: date
    rows: list[dict]
    end_offsets: list[int]  # seconds from the day's midnight to each row's end
    _json: bytes | None = field(default=None, repr=False)
    _starts: list | None = field(default=None, repr=False)

    def count_ended_by(self, now: datetime) -> int:
        """How many rows had ended by `now` (aware or Asia/Shanghai naive)."""
        if now.tzinfo is not None:
            now = now.astimezone(TZ).replace(tzinfo=None)
        cutoff = (now - datetime.combine(self.day, datetime.min.time())).total_seconds()
        if cutoff < 0:
            return 0
        return bisect.bisect_right(self.end_offsets, int(cutoff))

    def serialise(self) -> None:
        """Serialise the whole day once and note where each row starts, so that any run of
        rows (a page, today's prefix) is a slice of the same bytes."""
        if self._json is not None:
            return
        full = dumps(self.rows)
        # In compact JSON of these rows '},{"phone":' occurs only between two rows: a quote
        # inside a string value would be escaped.
        starts, sep = [1] if self.rows else [], b'},{"phone":'
        pos = full.find(sep)
        while pos != -1:
            starts.append(pos + 2)
            pos = full.find(sep, pos + 2)
        self._starts = starts if len(starts) == len(self.rows) else None  # else: dumps per slice
        self._json = full

    def rows_json(self, start: int, stop: int) -> list:
        """Rows [start, stop) as a JSON array, as byte chunks (zero-copy memoryview slices)."""
        self.serialise()
        stop = min(stop, len(self.rows))
        if start >= stop:
            return [b"[]"]
        if start == 0 and stop == len(self.rows):
            return [self._json]
        if self._starts is None:
            return [dumps(self.rows[start:stop])]
        end = self._starts[stop] - 1 if stop < len(self.rows) else len(self._json) - 1
        return [b"[", memoryview(self._json)[self._starts[start]:end], b"]"]


def build_day(user_id: str, account: int, day: date, calls_per_day: int = 2000, seed: int = 0) -> DayRows:
    """Generate every call of one day (including calls not yet ended 'now')."""
    profile = account_profile(user_id, account, seed)
    rng = random.Random(day_seed(user_id, account, day.isoformat(), seed))
    n = day_volume(rng, day, calls_per_day)
    hours = rng.choices(range(24), cum_weights=_HOUR_CUM, k=n)
    levels = rng.choices(range(len(CALL_LEVELS)), cum_weights=_LEVEL_CUM, k=n)
    custs = rng.choices(range(len(profile.customers)), cum_weights=profile.customer_cum, k=n)
    rand, lognorm, area, regulars = rng.random, rng.lognormvariate, profile.area, profile.regular_callers
    other_areas = [c for c, _ in _CITIES if c != area]

    calls = []
    for i in range(n):
        start = hours[i] * 3600 + int(rand() * 3600)
        if rand() < ANSWER_RATE:
            ring = 3 + int(rand() * 18)
            if rand() < LONG_CALL_RATE:
                talk = rng.randint(3600, 5 * 3600)
            else:  # median ~45 s, ~90% under 3 min, tail to minutes
                talk = max(1, min(int(lognorm(3.8, 1.1)), 3 * 3600))
        else:
            ring, talk = 5 + int(rand() * 36), 0
        if rand() < 0.15:  # a regular caller
            caller = rng.choice(regulars)
        else:
            caller = _mobile(rng) if rand() < 0.8 else _landline(rng, area)
        level = levels[i]
        if level == 0:  # 市话: local number, with or without the area code
            callee = _landline(rng, area)
            if rand() < 0.5:
                callee = callee[len(area):]
        elif level == 1:  # 国内长途: another city's landline or an out-of-town mobile
            callee = _landline(rng, rng.choice(other_areas)) if rand() < 0.6 else "0" + _mobile(rng)
        elif level == 2:
            callee = _mobile(rng)
        elif level == 3:
            callee = _international(rng, _INTERNATIONAL)
        else:
            callee = _international(rng, _HK_MO_TW)
        if level <= 2:
            callee = _maybe_prefixed(rng, callee)
        call = (start + ring + talk, start, talk, level, custs[i], _maybe_prefixed(rng, caller), callee)
        calls.append(call)
        if rand() < DUPLICATE_RATE:  # records carry no id: the switch sometimes bills a call twice
            calls.append(call)

    calls.sort(key=lambda c: c[0])
    first = day.isoformat() + " "  # every call starts on `day`; it may end days later
    hms, dates = _hms_table(), {0: first}
    rows, ends = [], []
    for end, start, talk, level, cust, caller, callee in calls:
        end_day, end_sec = divmod(end, DAY_SECONDS)
        if end_day not in dates:
            dates[end_day] = (day + timedelta(days=end_day)).isoformat() + " "
        label, _, rate = CALL_LEVELS[level]
        name, acct = profile.customers[cust]
        rows.append({
            "phone": caller,
            "callee_phone": callee,
            "start_time": first + hms[start],
            "end_time": dates[end_day] + hms[end_sec],
            "hold_time": hold_text(talk),
            "fee": _fee(((talk + 59) // 60) * rate),
            "call_level_text": label,
            "customer_name": name,
            "customer_account": acct,
        })
        ends.append(end)
    return DayRows(day, rows, ends)


def generate_day(user_id: str, account: int, day, calls_per_day: int = 2000, seed: int = 0,
                 now: datetime | None = None) -> list[dict]:
    """The rows the upstream would list for (user, account, day) at `now` (default: the
    real current time): empty for a future day, only ended calls for today, whole day
    otherwise. `fee` is int 0 or a Decimal. Pure: a fresh list on every call."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    now = now or datetime.now(TZ)
    whole = build_day(user_id, account, day, calls_per_day, seed)
    return whole.rows[: whole.count_ended_by(now)]


# --- damage, for the simulator's fault switches -----------------------------------

BAD_ROW_KINDS = ("missing_field", "null_value", "not_object", "bad_start_time", "bad_fee", "bad_hold_time")
# Odd but arguably valid; only used when asked for by name.
EXTRA_BAD_ROW_KINDS = ("fee_string",)
HTML_TEMPLATES = ("<script>alert(1)</script>{}", "<b>{}</b>")


def _pick(rows: list, count: int, *key) -> list[int]:
    rng = random.Random(day_seed(*key, len(rows)))
    return sorted(rng.sample(range(len(rows)), min(count, len(rows))))


def corrupt_rows(rows: list, count: int, key: str, kinds=BAD_ROW_KINDS) -> list:
    """A copy of `rows` with `count` rows damaged, cycling through `kinds`; which rows
    and which field depend only on `key` and the number of rows."""
    if count <= 0 or not rows:
        return rows
    out = list(rows)
    field_rng = random.Random(day_seed(key, "fields"))
    for j, idx in enumerate(_pick(rows, count, key, "bad_rows")):
        kind = kinds[j % len(kinds)]
        row = dict(out[idx])
        if kind == "missing_field":
            del row[field_rng.choice(ROW_FIELDS)]
        elif kind == "null_value":
            row[field_rng.choice(ROW_FIELDS)] = None
        elif kind == "not_object":
            row = "话单记录异常"
        elif kind == "bad_start_time":
            row["start_time"] = "2022-13-45 99:00:00"
        elif kind == "bad_fee":
            row["fee"] = "abc"
        elif kind == "bad_hold_time":
            row["hold_time"] = "xx"
        elif kind == "fee_string":
            row["fee"] = str(row["fee"])
        else:
            raise ValueError(f"unknown bad row kind: {kind}")
        out[idx] = row
    return out


def inject_html(rows: list, count: int, key: str) -> list:
    """A copy of `rows` with markup and script in `count` customer names."""
    if count <= 0 or not rows:
        return rows
    out = list(rows)
    for j, idx in enumerate(_pick(rows, count, key, "html")):
        row = dict(out[idx])
        row["customer_name"] = HTML_TEMPLATES[j % len(HTML_TEMPLATES)].format(row["customer_name"])
        out[idx] = row
    return out


def add_late_rows(rows: list, extra: int, key: str) -> list:
    """A copy of `rows` with `extra` late-billed calls spread through it (so a client
    that pages while this happens sees the total change and rows shift between pages)."""
    if extra <= 0 or not rows:
        return rows
    rng = random.Random(day_seed(key, "late"))
    out = list(rows)
    for _ in range(extra):
        late = dict(rng.choice(rows))
        late["phone"] = _mobile(rng)
        out.insert(rng.randrange(len(out) + 1), late)
    return out


# --- fault switches ------------------------------------------------------------------
# Each fault applies to the next `times` get_call_record requests it affects, or to all
# of them while `times` is None.

@dataclass
class StatusFault:
    """Answer HTTP `code` with {"code": code, "message": "服务器内部错误"} (or `message`)."""
    code: int = 500
    message: str | None = None
    times: int | None = None

    def __post_init__(self):
        if not (isinstance(self.code, int) and 100 <= self.code <= 599):
            raise ValueError("status code must be an int 100..599")


@dataclass
class RateLimitFault:
    """HTTP 429 "请求过于频繁"; Retry-After in seconds, or as an HTTP-date, or absent (None)."""
    retry_after: int | None = 1
    http_date: bool = False
    times: int | None = None


@dataclass
class DelayFault:
    """Sleep before answering."""
    seconds: float = 1.0
    times: int | None = None


@dataclass
class DripFault:
    """Send the body `chunk` bytes at a time, `interval` seconds apart."""
    interval: float = 0.05
    chunk: int = 16
    times: int | None = None


@dataclass
class MalformedFault:
    """kind "truncated": half of the JSON body; kind "html": an nginx error page with 200."""
    kind: str = "truncated"
    times: int | None = None

    def __post_init__(self):
        if self.kind not in ("truncated", "html"):
            raise ValueError("malformed kind must be 'truncated' or 'html'")


@dataclass
class EnvelopeErrorFault:
    """HTTP 200 with an error envelope."""
    code: int = 500
    message: str = "查询失败，请稍后重试"
    times: int | None = None


@dataclass
class BadRowsFault:
    """Damage `count` rows of the day (see corrupt_rows), keeping the others."""
    count: int = 6
    kinds: tuple = BAD_ROW_KINDS
    times: int | None = None

    def __post_init__(self):
        self.kinds = tuple(self.kinds)
        unknown = set(self.kinds) - set(BAD_ROW_KINDS + EXTRA_BAD_ROW_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"bad_rows kinds must be among {BAD_ROW_KINDS + EXTRA_BAD_ROW_KINDS}")


@dataclass
class ChangingTotalFault:
    """Pages mode: pages after the first see `extra` more rows (and a bigger total)."""
    extra: int = 5
    times: int | None = None


@dataclass
class HtmlInTextFault:
    """Markup and script in `count` customer names."""
    count: int = 5
    times: int | None = None


@dataclass
class OversizeFault:
    """Pad the answer with a junk field to `size` bytes."""
    size: int = 1_000_000
    times: int | None = None


_FAULT_TYPES = {
    "status": StatusFault, "rate_limit": RateLimitFault, "delay": DelayFault, "drip": DripFault,
    "malformed": MalformedFault, "envelope_error": EnvelopeErrorFault, "bad_rows": BadRowsFault,
    "changing_total": ChangingTotalFault, "html_in_text": HtmlInTextFault, "oversize": OversizeFault,
}
FAULT_NAMES = tuple(_FAULT_TYPES)
_KEEP = object()


def make_fault(name: str, value):
    """A fault from a loose spec: None/False (off), True (defaults), a dict of fields,
    an instance, or a bare value for the first field (status=503, delay=0.5, bad_rows=10)."""
    if name not in _FAULT_TYPES:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
    cls = _FAULT_TYPES[name]
    if value is None or value is False:
        return None
    if isinstance(value, cls):
        return value
    if value is True:
        return cls()
    if isinstance(value, dict):
        return cls(**value)
    return cls(value)


@dataclass
class Faults:
    """The fault switches of a running simulator (all off by default)."""

    status: StatusFault | None = None
    rate_limit: RateLimitFault | None = None
    delay: DelayFault | None = None
    drip: DripFault | None = None
    malformed: MalformedFault | None = None
    envelope_error: EnvelopeErrorFault | None = None
    bad_rows: BadRowsFault | None = None
    changing_total: ChangingTotalFault | None = None
    html_in_text: HtmlInTextFault | None = None
    oversize: OversizeFault | None = None

    def update(self, times=_KEEP, **faults) -> None:
        """Set the named faults (see make_fault); `times`, if given, applies to each."""
        made = {name: make_fault(name, value) for name, value in faults.items()}
        for name, fault in made.items():  # all validated before any is set
            if fault is not None and times is not _KEEP:
                fault.times = times
            setattr(self, name, fault)

    def take(self, name: str, when=None):
        """The fault if it is on (and `when(fault)` holds), using up one of its `times`."""
        fault = getattr(self, name)
        if fault is None or (when is not None and not when(fault)):
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                setattr(self, name, None)
            if fault.times < 0:
                return None
        return fault

    def clear(self) -> None:
        for name in FAULT_NAMES:
            setattr(self, name, None)

    def snapshot(self) -> dict:
        return {name: (asdict(f) if (f := getattr(self, name)) else None) for name in FAULT_NAMES}


# --- serialisation -------------------------------------------------------------------

def _json_default(value):
    # Decimals with <= 4 places: the float's shortest repr is exactly the decimal's digits
    # (0.12 -> 0.12, never 0.12000000001); whole amounts go out as ints.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value) -> bytes:
    """Compact UTF-8 JSON (Chinese kept as is), Decimal fees as JSON numbers."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default).encode()
