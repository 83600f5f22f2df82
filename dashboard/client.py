"""The upstream client: the one module that speaks HTTP to the VOS call-record platform.

The platform's documented call (shared/upstream/get_call_record.original.txt):

    GET {base_url}/vos/{user_id}/get_call_record?time=YYYY-MM-DD&vos_account_id=N
    Authorization: Bearer {token}

answers `{"code": 200, "message": …, "data": [records]}` for one day. A second public
copy of the same page shows a Laravel paginator (`meta.total`, `last_page`, `page=N`)
beside `data`, so both shapes are handled: without `meta` the list is the whole day;
with it we fetch every page and a day is complete only when the rows add up to
`meta.total`. Everything else the page leaves unsaid (401/403/404/429/5xx, an envelope
`code` other than 200 on HTTP 200, malformed bodies) leaves here as one UpstreamError.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import requests
import urllib3
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)

# What went wrong, in a support person's words. `%(status)s`, `%(detail)s` and
# `%(upstream)s` are filled in by UpstreamError.user_message().
ERROR_MESSAGES = {
    "auth": _("The platform refused the token (HTTP %(status)s). Check the credential's token."),
    "not_found": _("The platform does not know this user id (HTTP %(status)s). Check the credential's platform user id."),
    "rate_limited": _("The platform is limiting requests (HTTP 429) and still was after waiting. Try again in a few minutes."),
    "server_error": _("The platform had an error (HTTP %(status)s) and still had after retrying. Try again later."),
    "http_error": _("The platform answered with HTTP %(status)s."),
    "envelope": _("The platform reported an error (code %(status)s)."),
    "malformed": _("The platform's answer could not be read (%(detail)s)."),
    "too_large": _("The platform's answer was larger than the limit (%(detail)s)."),
    "timeout": _("The platform did not answer in time (%(detail)s)."),
    "connection": _("Could not connect to the platform (%(detail)s)."),
    "incomplete": _("The platform's pages did not add up (%(detail)s); the day was not replaced."),
    "token": _("The stored token cannot be decrypted: the encryption key changed. Enter the token again."),
}
RETRYABLE_KINDS = {"rate_limited", "server_error", "timeout", "connection", "incomplete", "malformed"}


class UpstreamError(Exception):
    """Any failure to get a day from the platform.

    kind: a key of ERROR_MESSAGES; status: the HTTP status or envelope code, if any;
    upstream_message: the platform's own `message`, if it sent one; detail: a short
    technical note (never the token); retryable: whether trying again could help.
    """

    def __init__(self, kind: str, *, status: int | None = None, upstream_message: str = "",
                 detail: str = "", retryable: bool | None = None):
        self.kind = kind
        self.status = status
        self.upstream_message = (upstream_message or "")[:500]
        self.detail = detail[:300]
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        super().__init__(self.user_message())

    def user_message(self) -> str:
        """The message in the active language, ending with the platform's own words."""
        return render_error(self.kind, self.status, self.detail, self.upstream_message)


def render_error(kind: str, status: int | None, detail: str, upstream_message: str) -> str:
    template = ERROR_MESSAGES.get(kind, ERROR_MESSAGES["http_error"])
    text = str(template) % {"status": status if status is not None else "-", "detail": detail}
    if upstream_message:
        said = _("The platform said:")
        text = f"{text} {said} “{upstream_message}”"
    return text


@dataclass
class DayAnswer:
    """The raw records of one day, as the platform sent them (not yet validated)."""

    records: list
    total: int | None  # meta.total when paged, None for a bare list
    pages: int


class VosClient:
    """A keep-alive session for one credential. Thread-safe for concurrent fetch_day calls."""

    def __init__(self, *, base_url: str, user_id: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.user_id = str(user_id)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"
        retry = Retry(
            total=settings.VOS_RETRIES,
            connect=settings.VOS_RETRIES,
            # A read timeout means a slow platform: asking again multiplies the wait
            # past any page's patience. Connection errors, 429 and 5xx are retried.
            read=0,
            status=settings.VOS_RETRIES,
            other=0,
            allowed_methods={"GET"},
            status_forcelist=RETRY_STATUSES,
            backoff_factor=settings.VOS_BACKOFF,
            backoff_jitter=settings.VOS_BACKOFF / 2,
            backoff_max=settings.VOS_RETRY_AFTER_MAX,
            respect_retry_after_header=True,
            retry_after_max=settings.VOS_RETRY_AFTER_MAX,
            # Give us the last response so its body (the platform's message) can be read.
            raise_on_status=False,
        )
        pool = max(settings.VOS_PAGE_PARALLELISM, settings.SYNC_PARALLELISM) * 2
        adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=pool)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.session.close()

    @property
    def url(self) -> str:
        return f"{self.base_url}/vos/{self.user_id}/get_call_record"

    def fetch_day(self, day: date, *, account_id: int | None = None,
                  deadline: float | None = None) -> DayAnswer:
        """All records of one day; raises UpstreamError. Pages are fetched in parallel,
        and a paged day must add up to its `meta.total`. deadline: a time.monotonic()
        value that cuts the day short sooner than VOS_DAY_DEADLINE (a page waiting)."""
        own_deadline = time.monotonic() + settings.VOS_DAY_DEADLINE
        deadline = min(own_deadline, deadline) if deadline is not None else own_deadline
        params = {"time": day.isoformat(), "page": 1, "per_page": settings.VOS_PAGE_SIZE}
        if account_id is not None:
            params["vos_account_id"] = account_id
        first = self._get_envelope(params, deadline)
        meta = first.get("meta")
        records = _records_of(first)
        if meta is None:
            return DayAnswer(records=records, total=None, pages=1)

        total, last_page = _read_meta(meta)
        page_rows = {1: records}
        if last_page > 1:
            def fetch_page(page: int):
                envelope = self._get_envelope({**params, "page": page}, deadline)
                page_meta = envelope.get("meta")
                if page_meta is None:
                    raise UpstreamError("incomplete", detail=f"page {page} came without paging information")
                page_total, _last = _read_meta(page_meta)
                if page_total != total:
                    raise UpstreamError(
                        "incomplete",
                        detail=f"the total changed from {total} to {page_total} while paging",
                    )
                return page, _records_of(envelope)

            workers = min(settings.VOS_PAGE_PARALLELISM, last_page - 1)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vos-page") as pool:
                for page, rows in pool.map(fetch_page, range(2, last_page + 1)):
                    page_rows[page] = rows
        received = [row for page in sorted(page_rows) for row in page_rows[page]]
        if len(received) != total:
            raise UpstreamError(
                "incomplete", detail=f"expected {total} records, received {len(received)}"
            )
        return DayAnswer(records=received, total=total, pages=last_page)

    def _get_envelope(self, params: dict, deadline: float) -> dict:
        """One request → the decoded envelope (code 200). Raises UpstreamError."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamError("timeout", detail=_deadline_note())
        timeout = (min(settings.VOS_CONNECT_TIMEOUT, remaining), min(settings.VOS_READ_TIMEOUT, remaining))
        try:
            response = self.session.get(self.url, params=params, timeout=timeout, stream=True)
        except requests.exceptions.ConnectTimeout:
            raise UpstreamError("timeout", detail=str(_("no connection within %(s)ss")) % {"s": timeout[0]}) from None
        except (requests.exceptions.ReadTimeout, requests.exceptions.Timeout):
            raise UpstreamError("timeout", detail=str(_("no data for %(s)ss")) % {"s": timeout[1]}) from None
        except requests.exceptions.RetryError as exc:
            # Only reached when retries on status codes ran out without a response.
            raise UpstreamError("server_error", detail=type(exc).__name__) from None
        except requests.exceptions.ConnectionError as exc:
            # Read timeouts that exhausted the retries arrive wrapped as connection errors.
            if "timed out" in str(exc).lower():
                raise UpstreamError("timeout", detail=str(_("no data for %(s)ss")) % {"s": timeout[1]}) from None
            raise UpstreamError("connection", detail=_connection_note(exc)) from None
        except requests.exceptions.RequestException as exc:
            raise UpstreamError("connection", detail=type(exc).__name__) from None
        with response:
            body = self._read_body(response, deadline)
        status = response.status_code
        page = params.get("page")
        logger.debug("GET day=%s account=%s page=%s -> %s (%d bytes)",
                     params.get("time"), params.get("vos_account_id"), page, status, len(body))
        if status != 200:
            raise _http_error(status, body)
        try:
            envelope = json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise UpstreamError("malformed", status=status, detail=_body_note(body)) from None
        if not isinstance(envelope, dict):
            raise UpstreamError("malformed", status=status, detail=str(_("not a JSON object")))
        code = envelope.get("code")
        if code != 200 and str(code) != "200":
            code_number = code if isinstance(code, int) and not isinstance(code, bool) else None
            raise UpstreamError(
                "envelope",
                status=code_number,
                upstream_message=_text(envelope.get("message")),
                retryable=False,
            )
        return envelope

    def _read_body(self, response, deadline: float) -> bytes:
        cap = settings.VOS_MAX_BODY_BYTES
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise UpstreamError("too_large", status=response.status_code, detail=_size_note(int(declared), cap))
        chunks, size = [], 0
        try:
            # read1 returns what one socket read brings: the wall-clock deadline is
            # checked between reads even when the platform drips a few bytes at a time.
            while chunk := response.raw.read1(256 * 1024, decode_content=True):
                size += len(chunk)
                if size > cap:
                    raise UpstreamError("too_large", status=response.status_code, detail=_size_note(size, cap))
                if time.monotonic() > deadline:
                    raise UpstreamError("timeout", detail=_deadline_note())
                chunks.append(chunk)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
            if isinstance(exc, urllib3.exceptions.TimeoutError) or "timed out" in str(exc).lower():
                raise UpstreamError("timeout", detail=str(_("the answer stopped arriving"))) from None
            raise UpstreamError("connection", detail=type(exc).__name__) from None
        return b"".join(chunks)


def _records_of(envelope: dict) -> list:
    data = envelope.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise UpstreamError("malformed", detail=str(_("`data` is not a list")))
    return data


def _read_meta(meta) -> tuple[int, int]:
    if not isinstance(meta, dict):
        raise UpstreamError("malformed", detail=str(_("`meta` is not an object")))
    try:
        total = int(meta["total"])
        last_page = max(int(meta.get("last_page") or 1), 1)
    except (KeyError, TypeError, ValueError):
        raise UpstreamError("malformed", detail=str(_("`meta` lacks total or last_page"))) from None
    if total < 0 or last_page > 100_000:
        raise UpstreamError("malformed", detail=str(_("`meta` is out of range")))
    return total, last_page


def _http_error(status: int, body: bytes) -> UpstreamError:
    upstream_message = ""
    try:
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            upstream_message = _text(decoded.get("message"))
    except (ValueError, UnicodeDecodeError):
        pass
    if status in (401, 403):
        return UpstreamError("auth", status=status, upstream_message=upstream_message, retryable=False)
    if status == 404:
        return UpstreamError("not_found", status=status, upstream_message=upstream_message, retryable=False)
    if status == 429:
        return UpstreamError("rate_limited", status=status, upstream_message=upstream_message)
    if status >= 500:
        return UpstreamError("server_error", status=status, upstream_message=upstream_message)
    return UpstreamError("http_error", status=status, upstream_message=upstream_message, retryable=False)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _body_note(body: bytes) -> str:
    head = body[:20].lstrip()
    if head[:1] == b"<":
        return str(_("HTML instead of JSON"))
    if not body:
        return str(_("empty answer"))
    return str(_("invalid or truncated JSON"))


def _size_note(size: int, cap: int) -> str:
    return str(_("%(size)s MB over %(cap)s MB")) % {"size": round(size / 1e6, 1), "cap": round(cap / 1e6, 1)}


def _deadline_note() -> str:
    return str(_("the whole day took longer than %(s)ss")) % {"s": settings.VOS_DAY_DEADLINE}


def _connection_note(exc: Exception) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return str(_("connection refused"))
    if "name or service not known" in text or "nodename nor servname" in text or "resolve" in text:
        return str(_("host name not found"))
    if "ssl" in text or "certificate" in text:
        return str(_("TLS error"))
    return str(_("network error"))
