"""The upstream simulator itself (dashboard/simulator.py), over real HTTP on a free port."""

import http.client
import json
import math
import re
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime

import pytest
import requests

from dashboard.simulator import (
    TZ, SimulatorConfig, StatusFault, build_day, dumps, generate_day, start_simulator,
)
from dashboard.simulator_data import BAD_ROW_KINDS, CALL_LEVELS, ROW_FIELDS, hold_text

USER = "11111111-2222-4333-8444-555555555555"
TOKEN = "sim-test-SECRET-token-0123456789"
DAY = date(2024, 5, 7)  # a Tuesday
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_HOLD = re.compile(r"^\d{2,}:[0-5]\d:[0-5]\d$")


@pytest.fixture(scope="module")
def sim_server():
    handle = start_simulator(SimulatorConfig(users={USER: TOKEN}, calls_per_day=300))
    yield handle
    handle.stop()


@pytest.fixture
def upstream(sim_server):
    sim_server.reset()
    sim_server.config.paging, sim_server.config.clock = "list", None
    yield sim_server
    sim_server.reset()
    sim_server.config.paging, sim_server.config.clock = "list", None


def get(sim, session=requests, headers=AUTH, user=USER, **params):
    return session.get(f"{sim.base_url}/vos/{user}/get_call_record", params=params, headers=headers, timeout=5)


def seconds(hms: str) -> int:
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s


# --- the data ------------------------------------------------------------------------

def test_it_generates_the_same_day_byte_identically():
    first = dumps(generate_day(USER, 1, DAY, 500, seed=3))
    assert first == dumps(generate_day(USER, 1, DAY.isoformat(), 500, seed=3))
    assert first != dumps(generate_day(USER, 1, DAY, 500, seed=4))
    assert first != dumps(generate_day(USER, 2, DAY, 500, seed=3))


def test_it_varies_the_volume_by_day_and_is_quieter_at_weekends():
    counts = {DAY + timedelta(days=n): len(generate_day(USER, 1, DAY + timedelta(days=n), 1000)) for n in range(14)}
    weekdays = [n for d, n in counts.items() if d.weekday() < 5]
    weekends = [n for d, n in counts.items() if d.weekday() >= 5]
    assert all(850 <= n <= 1150 for n in weekdays) and len(set(weekdays)) > 1
    assert max(weekends) < sum(weekdays) / len(weekdays)


def test_it_emits_clean_realistic_rows():
    rows = generate_day(USER, 1, DAY, 3000)
    rates = {label: Decimal(rate) / 10000 for label, _, rate in CALL_LEVELS}
    for row in rows:
        assert tuple(row) == ROW_FIELDS
        assert all(isinstance(row[k], str) for k in ROW_FIELDS if k != "fee")
        assert _TIME.match(row["start_time"]) and _TIME.match(row["end_time"]) and _HOLD.match(row["hold_time"])
        start = datetime.fromisoformat(row["start_time"])
        talk = seconds(row["hold_time"])
        assert start.date() == DAY
        assert datetime.fromisoformat(row["end_time"]) >= start + timedelta(seconds=talk + 3)
        if talk == 0:
            assert row["fee"] == 0 and type(row["fee"]) is int
        else:
            assert row["fee"] == math.ceil(talk / 60) * rates[row["call_level_text"]]
        assert re.fullmatch(r"(\+86|0086)?\d{7,15}", row["phone"])
    levels = Counter(r["call_level_text"] for r in rows)
    assert 0.40 < levels["市话"] / len(rows) < 0.50 and set(levels) == set(rates)
    assert 0.55 < sum(r["hold_time"] != "00:00:00" for r in rows) / len(rows) < 0.65
    intl = [r["callee_phone"] for r in rows if r["call_level_text"] in ("国际长途", "港澳台")]
    assert intl and all(n.startswith("00") and not n.startswith("0086") for n in intl)
    assert any(r["phone"].startswith(("+86", "0086")) for r in rows)
    assert Counter(r["phone"] for r in rows).most_common(1)[0][1] > 5  # regular callers recur
    assert 3 <= len({r["customer_name"] for r in rows}) <= 6


def test_it_sometimes_lists_a_call_twice():
    rows = generate_day(USER, 1, DAY, 20_000)
    twice = [n for n in Counter(tuple(r.values()) for r in rows).values() if n > 1]
    assert 0 < len(twice) < 40


def test_it_follows_a_diurnal_curve():
    hours = Counter(int(r["start_time"][11:13]) for r in generate_day(USER, 1, DAY, 5000))
    assert hours[10] > 10 * hours[3] and hours[15] > 10 * hours[3] and hours[10] > hours[13]


def test_it_formats_long_hold_times_past_24_hours():
    assert hold_text(0) == "00:00:00"
    assert hold_text(90001) == "25:00:01"


def test_it_lists_nothing_for_a_future_day_and_only_ended_calls_today():
    assert generate_day(USER, 1, DAY, 300, now=datetime(2024, 5, 6, 23, 0, tzinfo=TZ)) == []
    noon = datetime(2024, 5, 7, 12, 0, tzinfo=TZ)
    morning = generate_day(USER, 1, DAY, 300, now=noon)
    whole = generate_day(USER, 1, DAY, 300, now=datetime(2024, 5, 9, tzinfo=TZ))
    assert 0 < len(morning) < len(whole) and morning == whole[: len(morning)]
    assert all(r["end_time"] <= "2024-05-07 12:00:00" for r in morning)


def test_it_generates_and_serialises_a_busy_day_quickly():
    started = time.perf_counter()
    day = build_day(USER, 1, DAY, 20_000)  # ~0.2 s; 100k rows take ~1 s
    day.serialise()
    assert len(day.rows) > 17_000 and day.rows_json(0, len(day.rows)) == [dumps(day.rows)]
    assert time.perf_counter() - started < 1.5


def test_it_slices_pages_and_prefixes_out_of_one_serialisation():
    day = build_day(USER, 1, DAY, 300)
    n = len(day.rows)
    for start, stop in [(0, n), (0, 1), (0, 100), (100, 200), (n - 1, n), (250, n + 50), (n, n + 10), (5, 5)]:
        assert b"".join(day.rows_json(start, stop)) == dumps(day.rows[start:stop])


# --- the API -------------------------------------------------------------------------

def test_it_serves_the_generated_day_byte_identically(upstream):
    first = get(upstream, time=DAY.isoformat())
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("application/json")
    body = first.json()
    assert (body["code"], body["status"], body["message"]) == (200, "success", "查询话单列表成功")
    assert "meta" not in body
    assert body["data"] == json.loads(dumps(generate_day(USER, 1, DAY, 300)))
    assert get(upstream, time=DAY.isoformat()).content == first.content


def test_it_writes_fees_as_exact_json_numbers(upstream):
    raw = get(upstream, time=DAY.isoformat()).text
    fees = re.findall(r'"fee":([^,}]*)', raw)
    assert fees and all(re.fullmatch(r"0|[1-9]\d*|\d+\.\d{1,4}", f) for f in fees)
    parsed = json.loads(raw, parse_float=Decimal)["data"]
    assert [r["fee"] for r in parsed] == [r["fee"] for r in generate_day(USER, 1, DAY, 300)]


def test_it_defaults_to_yesterday_and_the_first_account(upstream):
    upstream.config.clock = lambda: datetime(2024, 5, 8, 9, 30, tzinfo=TZ)
    assert get(upstream).json()["data"] == get(upstream, time="2024-05-07", vos_account_id=1).json()["data"]
    assert upstream.request_count(day=DAY, account=1) == 2


def test_it_serves_only_ended_calls_today(upstream):
    upstream.config.clock = lambda: datetime(2024, 5, 7, 10, 0, tzinfo=TZ)
    data = get(upstream, time="2024-05-07").json()["data"]
    assert data and max(r["end_time"] for r in data) <= "2024-05-07 10:00:00"
    assert get(upstream, time="2024-05-08").json()["data"] == []


def test_it_rejects_a_missing_or_wrong_token_with_401(upstream):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        answer = get(upstream, headers=headers, time=DAY.isoformat())
        assert answer.status_code == 401
        assert answer.json() == {"code": 401, "status": "error", "message": "令牌无效或已过期", "data": None}


def test_it_answers_404_for_an_unknown_user(upstream):
    answer = get(upstream, user="someone-else")
    assert answer.status_code == 404 and answer.json()["message"] == "用户不存在"


def test_it_answers_envelope_errors_for_a_bad_time_or_account(upstream):
    for bad in ("2024-5-7", "2024-02-30", "yesterday"):
        answer = get(upstream, time=bad)
        assert answer.status_code == 200
        assert answer.json() == {"code": 422, "status": "error", "message": "时间格式错误", "data": None}
    answer = get(upstream, time=DAY.isoformat(), vos_account_id=4)
    assert answer.status_code == 200 and answer.json()["code"] == 404
    assert answer.json()["message"] == "vos账号不存在"


def test_it_filters_by_caller_and_callee_substring(upstream):
    rows = generate_day(USER, 1, DAY, 300)
    needle = rows[10]["phone"][-4:]
    data = get(upstream, time=DAY.isoformat(), phone=needle).json()["data"]
    assert data == json.loads(dumps([r for r in rows if needle in r["phone"]]))
    callee = rows[20]["callee_phone"]
    data = get(upstream, time=DAY.isoformat(), callee_phone=callee).json()["data"]
    assert data == json.loads(dumps([r for r in rows if callee in r["callee_phone"]])) and data


def test_it_pages_like_laravel(upstream):
    upstream.config.paging = "pages"
    whole = json.loads(dumps(generate_day(USER, 1, DAY, 300)))
    first = get(upstream, time=DAY.isoformat(), per_page=100).json()
    meta = first["meta"]
    assert list(meta) == ["current_page", "from", "last_page", "path", "per_page", "to", "total"]
    assert (meta["current_page"], meta["from"], meta["to"], meta["per_page"]) == (1, 1, 100, 100)
    assert meta["total"] == len(whole) and meta["last_page"] == math.ceil(len(whole) / 100)
    assert meta["path"].endswith(f"/agent-api/vos/{USER}/get_call_record")
    rows = first["data"]
    for page in range(2, meta["last_page"] + 1):
        rows += get(upstream, time=DAY.isoformat(), per_page=100, page=page).json()["data"]
    assert rows == whole
    past = get(upstream, time=DAY.isoformat(), per_page=100, page=meta["last_page"] + 1).json()
    assert past["data"] == [] and (past["meta"]["from"], past["meta"]["to"]) == (None, None)
    assert get(upstream, time=DAY.isoformat()).json()["meta"]["per_page"] == 500
    assert get(upstream, time=DAY.isoformat(), per_page=5000).json()["meta"]["per_page"] == 1000
    empty = get(upstream, time="2099-01-01").json()["meta"]
    assert (empty["total"], empty["last_page"], empty["from"], empty["to"]) == (0, 1, None, None)


def test_it_keeps_the_connection_alive(upstream):
    conn = http.client.HTTPConnection(upstream.host, upstream.port, timeout=5)
    path = f"/agent-api/vos/{USER}/get_call_record?time={DAY}"
    sockets = []
    for _ in range(3):
        conn.request("GET", path, headers=AUTH)
        answer = conn.getresponse()
        assert answer.version == 11 and int(answer.getheader("Content-Length")) == len(answer.read())
        sockets.append(conn.sock)
    assert sockets[0] is sockets[1] is sockets[2]
    conn.close()


# --- faults --------------------------------------------------------------------------

def test_it_answers_status_faults_for_n_requests_then_recovers(upstream):
    upstream.set_faults(status=503, times=2)
    answers = [get(upstream, time=DAY.isoformat()) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json() == {"code": 503, "message": "服务暂不可用"}
    upstream.config.faults.status = StatusFault(500)  # in-process, always on
    assert [get(upstream).json()["message"] for _ in range(2)] == ["服务器内部错误"] * 2


def test_it_rate_limits_with_retry_after_in_seconds_or_as_a_date(upstream):
    upstream.set_faults(rate_limit=7, times=1)
    answer = get(upstream)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
    assert answer.json()["message"] == "请求过于频繁"
    upstream.set_faults(rate_limit={"retry_after": 30, "http_date": True}, times=1)
    when = parsedate_to_datetime(get(upstream).headers["Retry-After"])
    assert 25 < (when - datetime.now(when.tzinfo)).total_seconds() <= 31
    assert get(upstream, time=DAY.isoformat()).status_code == 200  # used up


def test_it_delays_and_drips(upstream):
    upstream.set_faults(delay=0.3, times=1)
    started = time.monotonic()
    assert get(upstream, time=DAY.isoformat()).status_code == 200
    assert time.monotonic() - started >= 0.3
    upstream.set_faults(drip={"chunk": 8, "interval": 0.02}, times=1)
    started = time.monotonic()
    answer = get(upstream, headers={})  # a short 401 body, dripped 8 bytes at a time
    assert answer.status_code == 401 and answer.json()["code"] == 401
    assert time.monotonic() - started >= (math.ceil(len(answer.content) / 8) - 1) * 0.02


def test_it_sends_malformed_json_or_an_html_page(upstream):
    upstream.set_faults(malformed=True, times=1)
    truncated = get(upstream, time=DAY.isoformat())
    assert truncated.status_code == 200 and int(truncated.headers["Content-Length"]) == len(truncated.content)
    with pytest.raises(ValueError):
        json.loads(truncated.content)
    truncated.content.decode()  # cut on a character boundary
    upstream.set_faults(malformed="html", times=1)
    page = get(upstream)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")


def test_it_sends_an_error_envelope_on_http_200(upstream):
    upstream.set_faults(envelope_error=True, times=1)
    answer = get(upstream, time=DAY.isoformat())
    assert answer.status_code == 200
    assert answer.json() == {"code": 500, "status": "error", "message": "查询失败，请稍后重试", "data": None}


def test_it_corrupts_some_rows_deterministically_keeping_the_others(upstream):
    upstream.set_faults(bad_rows=12)
    first, second = get(upstream, time=DAY.isoformat()), get(upstream, time=DAY.isoformat())
    assert first.content == second.content
    clean = json.loads(dumps(generate_day(USER, 1, DAY, 300)))
    served = first.json()["data"]
    damaged = [s for s, c in zip(served, clean) if s != c]
    assert len(served) == len(clean) and len(damaged) == 12
    assert any(isinstance(d, str) for d in damaged)
    objects = [d for d in damaged if isinstance(d, dict)]
    assert any(set(d) < set(ROW_FIELDS) for d in objects)
    assert any(None in d.values() for d in objects)
    assert {d.get("start_time") for d in objects} >= {"2022-13-45 99:00:00"}
    assert {d.get("fee") for d in objects} >= {"abc"} and {d.get("hold_time") for d in objects} >= {"xx"}
    upstream.set_faults(bad_rows={"count": 2, "kinds": ["fee_string"]})
    assert [type(r["fee"]) for r in get(upstream, time=DAY.isoformat()).json()["data"]].count(str) == 2
    assert len(BAD_ROW_KINDS) == 6


def test_it_grows_the_total_between_pages(upstream):
    upstream.config.paging = "pages"
    upstream.set_faults(changing_total={"extra": 4})
    one = get(upstream, time=DAY.isoformat(), per_page=100).json()["meta"]["total"]
    two = get(upstream, time=DAY.isoformat(), per_page=100, page=2).json()["meta"]["total"]
    assert two == one + 4


def test_it_puts_markup_in_customer_names(upstream):
    upstream.set_faults(html_in_text=4)
    names = [r["customer_name"] for r in get(upstream, time=DAY.isoformat()).json()["data"]]
    assert sum("<script>alert(1)</script>" in n for n in names) == 2
    assert sum(n.startswith("<b>") for n in names) == 2


def test_it_pads_the_answer_to_the_requested_size(upstream):
    upstream.set_faults(oversize=3_000_000, times=1)
    answer = get(upstream, time=DAY.isoformat())
    assert len(answer.content) == 3_000_000 and len(answer.json()["data"]) > 0


def test_it_switches_faults_counts_and_resets_over_http(upstream):
    root = upstream.base_url.rsplit("/agent-api", 1)[0]
    answer = requests.post(f"{root}/_sim/faults", json={"status": {"code": 502}, "times": 1}, timeout=5)
    assert answer.json()["faults"]["status"] == {"code": 502, "message": None, "times": 1}
    assert get(upstream).status_code == 502 and get(upstream, time=DAY.isoformat(), page=2).status_code == 200
    stats = requests.get(f"{root}/_sim/stats", timeout=5).json()
    assert stats["total"] == 2 and stats["by_status"] == {"200": 1, "502": 1}
    assert {"user_id": USER, "account": 1, "day": "2024-05-07", "page": 2, "count": 1} in stats["requests"]
    assert upstream.request_count(day=DAY, page=2) == 1 and upstream.request_count(account=3) == 0
    assert requests.post(f"{root}/_sim/faults", json={"nonsense": 1}, timeout=5).status_code == 400
    assert requests.post(f"{root}/_sim/faults", json={"delay": {"bogus": 1}}, timeout=5).status_code == 400
    requests.post(f"{root}/_sim/faults", json={"status": 500}, timeout=5)
    requests.post(f"{root}/_sim/reset", timeout=5)
    assert get(upstream, time=DAY.isoformat()).status_code == 200 and upstream.request_count() == 1


def test_it_never_reveals_a_token(upstream):
    upstream.set_faults(bad_rows=3)
    get(upstream, time=DAY.isoformat())
    root = upstream.base_url.rsplit("/agent-api", 1)[0]
    assert TOKEN not in requests.get(f"{root}/_sim/stats", timeout=5).text
    assert TOKEN not in get(upstream, headers={"Authorization": "Bearer x"}).text


def test_it_stops_and_closes_kept_alive_connections():
    with start_simulator(SimulatorConfig(users={USER: TOKEN}, calls_per_day=10)) as sim:
        session = requests.Session()
        assert get(sim, session, time=DAY.isoformat()).status_code == 200
    with pytest.raises(requests.ConnectionError):
        get(sim, session, time=DAY.isoformat())
