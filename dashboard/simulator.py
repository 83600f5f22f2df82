"""A simulator of the upstream VOS call-record API, served over real HTTP.

See /work/shared/upstream/README.md for the API simulated. Stdlib only and no Django, so it
runs in a bare process (``manage.py vos_simulator`` wraps it) and in test threads::

    with start_simulator(SimulatorConfig(users={"uid": "token"}, paging="pages")) as sim:
        sim.set_faults(status=503, times=2)      # the next two calls answer HTTP 503
        requests.get(f"{sim.base_url}/vos/uid/get_call_record", headers=...)

Data comes from dashboard.simulator_data (deterministic per user, account, day and seed).
Control endpoints: ``POST /_sim/faults`` (JSON, same names as ``set_faults``),
``GET /_sim/faults``, ``POST /_sim/reset`` and ``GET /_sim/stats``.
"""

from __future__ import annotations

import email.utils
import hmac
import json
import math
import re
import socket
import threading
import time
import traceback
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

# Re-exported: tests and benchmarks import everything from here.
from dashboard.simulator_data import (  # noqa: F401
    TZ, BadRowsFault, ChangingTotalFault, DayRows, DelayFault, DripFault, EnvelopeErrorFault,
    Faults, HtmlInTextFault, MalformedFault, OversizeFault, RateLimitFault, StatusFault,
    add_late_rows, build_day, corrupt_rows, dumps, generate_day, inject_html,
)

BASE_PATH = "/agent-api"
DEMO_USER_ID = "5832d184-dd53-42a0-8ace-0bf8d660f4cc"  # the id in the upstream's own docs
DEMO_TOKEN = "simulator-demo-token"
MAX_CALLS_PER_DAY = 200_000
CACHE_DAYS = 8
CACHE_ROWS = 300_000  # bound memory too: a 100k-row day is ~65 MB of rows + 25 MB of JSON

_ROUTE = re.compile(rf"^{BASE_PATH}/vos/([^/]+)/get_call_record/?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_JSON = "application/json; charset=utf-8"
_OK_HEAD = dumps({"code": 200, "status": "success", "message": "查询话单列表成功"})[:-1] + b',"data":'
_STATUS_MESSAGES = {403: "无权访问", 404: "接口不存在", 502: "网关错误", 503: "服务暂不可用", 504: "网关超时"}
_HTML_PAGE = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
              b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")


@dataclass
class SimulatorConfig:
    """What the simulated platform serves. `users` maps user id -> bearer token."""

    users: dict[str, str] = field(default_factory=lambda: {DEMO_USER_ID: DEMO_TOKEN})
    calls_per_day: int = 2000
    paging: str = "list"  # "list": the whole day, no meta; "pages": Laravel paginator
    default_per_page: int = 500
    max_per_page: int = 1000
    seed: int = 0
    accounts: int = 3  # vos_account_id 1..accounts exist for every user
    faults: Faults = field(default_factory=Faults)
    clock: Callable[[], datetime] | None = None  # "now" in Asia/Shanghai; tests may fix it

    def __post_init__(self):
        if self.paging not in ("list", "pages"):
            raise ValueError("paging must be 'list' or 'pages'")
        if not 0 <= self.calls_per_day <= MAX_CALLS_PER_DAY:
            raise ValueError(f"calls_per_day must be 0..{MAX_CALLS_PER_DAY}")
        if self.default_per_page < 1 or self.max_per_page < 1:
            raise ValueError("per_page values must be >= 1")

    def now(self) -> datetime:
        now = self.clock() if self.clock else datetime.now(TZ)
        return now.astimezone(TZ) if now.tzinfo else now


def _envelope(code: int, message: str) -> bytes:
    return dumps({"code": code, "status": "error", "message": message, "data": None})


class _State:
    """Shared by all handler threads: counters, the day cache, the stop flag."""

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.counts: Counter = Counter()  # (user_id, account, day, page) -> requests
        self.by_status: Counter = Counter()
        self.days: OrderedDict = OrderedDict()
        self.building: dict = {}  # key -> Event, so parallel page requests build a day once
        self.connections: set = set()

    def take(self, name: str, when=None):
        with self.lock:
            return self.config.faults.take(name, when)

    def reset(self) -> None:
        with self.lock:
            self.config.faults.clear()
            self.counts.clear()
            self.by_status.clear()

    def count(self, key: tuple) -> None:
        with self.lock:
            self.counts[key] += 1

    def request_count(self, day=None, account=None, user_id=None, page=None) -> int:
        day = day.isoformat() if isinstance(day, date) else day
        want = (user_id, account, day, page)
        with self.lock:
            return sum(n for key, n in self.counts.items()
                       if all(w is None or w == k for w, k in zip(want, key)))

    def stats(self) -> dict:
        cfg = self.config
        with self.lock:
            return {
                "total": sum(self.counts.values()),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "requests": [{"user_id": u, "account": a, "day": d, "page": p, "count": n}
                             for (u, a, d, p), n in sorted(self.counts.items(), key=str)],
                "faults": cfg.faults.snapshot(),
                "config": {"users": sorted(cfg.users), "calls_per_day": cfg.calls_per_day,
                           "paging": cfg.paging, "default_per_page": cfg.default_per_page,
                           "max_per_page": cfg.max_per_page, "seed": cfg.seed},
            }

    def day(self, user_id: str, account: int, day: date) -> DayRows:
        """The whole generated day, from a small LRU cache."""
        key = (user_id, account, day, self.config.calls_per_day, self.config.seed)
        while True:
            with self.lock:
                if key in self.days:
                    self.days.move_to_end(key)
                    return self.days[key]
                waiter = self.building.get(key)
                if waiter is None:
                    waiter = self.building[key] = threading.Event()
                    break
            waiter.wait()  # another thread is building it; then look again
        try:
            *_, calls_per_day, seed = key
            built = build_day(user_id, account, day, calls_per_day, seed)
            built.serialise()  # every answer is then slices of these bytes
            with self.lock:
                self.days[key] = built
                while len(self.days) > 1 and (len(self.days) > CACHE_DAYS or
                                              sum(len(d.rows) for d in self.days.values()) > CACHE_ROWS):
                    self.days.popitem(last=False)
            return built
        finally:
            with self.lock:
                del self.building[key]
            waiter.set()


def _int(raw, default=None):
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = "VOSSimulator/1.0"
    timeout = 120  # idle keep-alive connections end eventually

    def log_message(self, format, *args):  # no per-request noise on stderr
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle plus the
        # client's delayed ACK would add ~40 ms to every small answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.state.lock:
            self.state.connections.add(self.connection)

    def finish(self):
        with self.state.lock:
            self.state.connections.discard(self.connection)
        super().finish()

    @property
    def state(self) -> _State:
        return self.server.state

    # --- plumbing ----------------------------------------------------------------------

    def _reply(self, status: int, parts, content_type=_JSON, headers=(), drip: DripFault | None = None):
        if isinstance(parts, bytes):
            parts = [parts]
        if self._counted:
            with self.state.lock:
                self.state.by_status[status] += 1
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(sum(len(p) for p in parts)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if drip is None:
                for part in parts:
                    self.wfile.write(part)
                return
            body = b"".join(parts)
            for i in range(0, len(body), max(1, drip.chunk)):
                self.wfile.write(body[i:i + max(1, drip.chunk)])
                if self.state.stopping.wait(drip.interval):
                    self.close_connection = True
                    return
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away; nothing to tell it

    def _json(self, status: int, value) -> None:
        self._reply(status, dumps(value))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self._counted = False
        try:
            url = urlsplit(self.path)
            length = _int(self.headers.get("Content-Length"), 0)
            raw_body = self.rfile.read(length) if length > 0 else b""
            route = _ROUTE.match(url.path)
            if route and method == "GET":
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                self._call_record(unquote(route.group(1)), query)
            elif url.path.startswith("/_sim/"):
                self._control(method, url.path, raw_body)
            else:
                self._json(404, {"code": 404, "status": "error", "message": "Not Found", "data": None})
        except Exception:  # a simulator bug: say so loudly, answer 500
            traceback.print_exc()
            self.close_connection = True
            self._json(500, {"code": 500, "message": "simulator error"})

    def _control(self, method: str, path: str, raw_body: bytes) -> None:
        if (method, path) == ("GET", "/_sim/stats"):
            return self._json(200, self.state.stats())
        if (method, path) == ("POST", "/_sim/reset"):
            self.state.reset()
            return self._json(200, {"ok": True})
        if path == "/_sim/faults" and method in ("GET", "POST"):
            if method == "POST":
                try:
                    spec = json.loads(raw_body or b"{}")
                    if not isinstance(spec, dict):
                        raise ValueError("body must be a JSON object")
                    with self.state.lock:
                        self.state.config.faults.update(**spec)
                except (ValueError, TypeError) as exc:
                    return self._json(400, {"ok": False, "error": str(exc)})
            with self.state.lock:
                return self._json(200, {"ok": True, "faults": self.state.config.faults.snapshot()})
        self._json(404, {"ok": False, "error": "unknown control endpoint"})

    # --- the API -----------------------------------------------------------------------

    def _call_record(self, user_id: str, q: dict) -> None:
        cfg, state = self.state.config, self.state
        now = cfg.now()
        time_raw = q.get("time") or ""  # Laravel turns "" into null: the default day
        day = (now.date() - timedelta(days=1)) if not time_raw else None
        if time_raw and _DATE.match(time_raw):
            try:
                day = date.fromisoformat(time_raw)
            except ValueError:
                pass
        account_raw = q.get("vos_account_id") or ""
        account = _int(account_raw) if account_raw else 1
        page = max(1, _int(q.get("page"), 1))
        state.count((user_id, account if account is not None else account_raw,
                     day.isoformat() if day else time_raw, page))
        self._counted = True

        # Faults a proxy in front of the platform would cause come before any checking.
        delay = state.take("delay")
        if delay and state.stopping.wait(delay.seconds):
            return
        drip = state.take("drip")
        if fault := state.take("rate_limit"):
            headers = []
            if fault.retry_after is not None:
                value = (email.utils.formatdate(time.time() + fault.retry_after, usegmt=True)
                         if fault.http_date else str(int(fault.retry_after)))
                headers.append(("Retry-After", value))
            return self._reply(429, _envelope(429, "请求过于频繁"), headers=headers, drip=drip)
        if fault := state.take("status"):
            message = fault.message or _STATUS_MESSAGES.get(fault.code, "服务器内部错误")
            return self._reply(fault.code, dumps({"code": fault.code, "message": message}), drip=drip)
        if state.take("malformed", lambda f: f.kind == "html"):
            return self._reply(200, _HTML_PAGE, "text/html; charset=utf-8", drip=drip)

        token = cfg.users.get(user_id)
        if token is None:
            return self._reply(404, _envelope(404, "用户不存在"), drip=drip)
        auth = self.headers.get("Authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return self._reply(401, _envelope(401, "令牌无效或已过期"), drip=drip)
        if day is None:
            return self._reply(200, _envelope(422, "时间格式错误"), drip=drip)
        if account is None:
            return self._reply(200, _envelope(422, "vos账号id必须是整数"), drip=drip)
        if not 1 <= account <= cfg.accounts:
            return self._reply(200, _envelope(404, "vos账号不存在"), drip=drip)
        if fault := state.take("envelope_error"):
            return self._reply(200, _envelope(fault.code, fault.message), drip=drip)

        parts = self._day_answer(user_id, account, day, now, page, q)
        if fault := state.take("oversize"):
            parts = [_pad(b"".join(parts), fault.size)]
        if state.take("malformed", lambda f: f.kind != "html"):
            parts = [_truncate(b"".join(parts))]
        self._reply(200, parts, drip=drip)

    def _day_answer(self, user_id: str, account: int, day: date, now: datetime, page: int, q: dict) -> list:
        cfg, state = self.state.config, self.state
        whole = state.day(user_id, account, day)
        ended = whole.count_ended_by(now)
        phone, callee = q.get("phone") or "", q.get("callee_phone") or ""
        bad, html = state.take("bad_rows"), state.take("html_in_text")
        pages = cfg.paging == "pages"
        grow = state.take("changing_total") if pages and page > 1 else None

        rows = None  # None: the day as generated, served as slices of its cached JSON
        if phone or callee or bad or html or grow:
            rows = whole.rows[:ended]
            if phone or callee:
                rows = [r for r in rows if phone in r["phone"] and callee in r["callee_phone"]]
            key = f"{user_id}|{account}|{day}|{cfg.seed}"
            if bad:
                rows = corrupt_rows(rows, bad.count, key, bad.kinds)
            if html:
                rows = inject_html(rows, html.count, key)
            if grow:
                rows = add_late_rows(rows, grow.extra, key)
        if not pages:
            return [_OK_HEAD, *(whole.rows_json(0, ended) if rows is None else [dumps(rows)]), b"}"]

        per_page = _int(q.get("per_page"), 0)
        per_page = cfg.default_per_page if per_page < 1 else min(per_page, cfg.max_per_page)
        total = ended if rows is None else len(rows)
        first = (page - 1) * per_page
        stop = min(first + per_page, total)
        data = whole.rows_json(first, stop) if rows is None else [dumps(rows[first:stop])]
        meta = {
            "current_page": page,
            "from": first + 1 if first < stop else None,
            "last_page": max(1, math.ceil(total / per_page)),
            "path": f"http://{self.headers.get('Host') or '%s:%d' % self.server.server_address[:2]}"
                    f"{BASE_PATH}/vos/{user_id}/get_call_record",
            "per_page": per_page,
            "to": stop if first < stop else None,
            "total": total,
        }
        return [_OK_HEAD, *data, b',"meta":', dumps(meta), b"}"]


def _pad(body: bytes, size: int) -> bytes:
    """Grow a JSON object body to `size` bytes with a junk field (never shrinks it)."""
    filler = size - len(body) - len(b',"_padding":""')
    return body if filler <= 0 else body[:-1] + b',"_padding":"' + b"x" * filler + b'"}'


def _truncate(body: bytes) -> bytes:
    """The first half of the body, cut on a UTF-8 character boundary."""
    cut = max(1, len(body) // 2)
    while cut > 1 and (body[cut] & 0xC0) == 0x80:
        cut -= 1
    return body[:cut]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of parallel page requests must not be refused
    allow_reuse_address = True

    def __init__(self, address, state: _State):
        self.state = state
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn): slow, and useless here.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        pass  # connection resets of clients that gave up; real bugs are printed in _dispatch


class SimulatorHandle:
    """A running simulator: `base_url`, `config`, fault switches, counters, `stop()`."""

    def __init__(self, server: _Server, thread: threading.Thread):
        self._server, self._thread = server, thread
        host, port = server.server_address[:2]
        self.host, self.port = host, port
        self.base_url = f"http://{host}:{port}{BASE_PATH}"
        self.config: SimulatorConfig = server.state.config

    def set_faults(self, **faults) -> dict:
        """Switch faults on (or off with None), e.g. ``set_faults(status=503, times=2)``,
        ``set_faults(rate_limit={"retry_after": 2, "http_date": True})``. `times` applies
        to every fault named in the call; None (the default) means always."""
        with self._server.state.lock:
            self.config.faults.update(**faults)
            return self.config.faults.snapshot()

    def reset(self) -> None:
        """Clear all faults and request counters (the day cache stays)."""
        self._server.state.reset()

    def request_count(self, day=None, account=None, user_id=None, page=None) -> int:
        """get_call_record requests received, optionally only those matching the filters
        (day as date or "YYYY-MM-DD", account as int, page as int)."""
        return self._server.state.request_count(day, account, user_id, page)

    def stats(self) -> dict:
        """What GET /_sim/stats answers."""
        return self._server.state.stats()

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections."""
        state = self._server.state
        state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with state.lock:
            connections = list(state.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self) -> "SimulatorHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_simulator(config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> SimulatorHandle:
    """Serve the simulator in a daemon thread; port 0 picks a free port."""
    server = _Server((host, port), _State(config or SimulatorConfig()))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"vos-simulator:{server.server_address[1]}", daemon=True)
    thread.start()
    return SimulatorHandle(server, thread)
