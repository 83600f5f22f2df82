"""The client against the simulator over real HTTP: both answer shapes and every fault."""

import socket
import time

import pytest
from django.utils import translation

from dashboard.client import UpstreamError, VosClient
from tests.conftest import PLATFORM_USER, TOKEN


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English; the project's default language is Chinese."""
    with translation.override("en"):
        yield


@pytest.fixture
def client(sim):
    with VosClient(base_url=sim.base_url, user_id=PLATFORM_USER, token=TOKEN) as vos:
        yield vos


def fetch_error(client, day, **kwargs) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        client.fetch_day(day, account_id=1, **kwargs)
    return caught.value


def test_it_reads_a_whole_day_from_a_bare_list(client, sim, yesterday):
    answer = client.fetch_day(yesterday, account_id=1)
    assert answer.total is None
    assert len(answer.records) > 200
    assert sim.request_count(day=yesterday) == 1


def test_it_follows_every_page_and_checks_the_total(client, sim, yesterday, settings):
    sim.config.paging = "pages"
    sim.config.max_per_page = 40  # asks for 500 a page, is given 40: read what comes back
    answer = client.fetch_day(yesterday, account_id=1)
    assert answer.total == len(answer.records)
    assert answer.pages == -(-answer.total // 40)
    assert sim.request_count(day=yesterday) == answer.pages
    sim.config.paging = "list"
    whole_day = client.fetch_day(yesterday, account_id=1).records
    assert answer.records == whole_day


def test_it_refuses_a_day_whose_total_changed_while_paging(client, sim, yesterday):
    sim.config.paging = "pages"
    sim.config.max_per_page = 50
    sim.set_faults(changing_total={"extra": 3})
    error = fetch_error(client, yesterday)
    assert error.kind == "incomplete"
    assert error.retryable


def test_it_reports_a_bad_token_with_the_platform_message(sim, yesterday):
    with VosClient(base_url=sim.base_url, user_id=PLATFORM_USER, token="wrong") as client:
        error = fetch_error(client, yesterday)
    assert (error.kind, error.status, error.retryable) == ("auth", 401, False)
    assert "令牌无效或已过期" in error.user_message()
    assert sim.request_count(day=yesterday) == 1  # never retried


def test_it_reports_an_unknown_user(sim, yesterday):
    with VosClient(base_url=sim.base_url, user_id="00000000-0000-0000-0000-000000000000",
                   token=TOKEN) as client:
        error = fetch_error(client, yesterday)
    assert (error.kind, error.status) == ("not_found", 404)


def test_it_reports_an_envelope_error_sent_with_http_200(client, sim, yesterday):
    sim.set_faults(envelope_error={"code": 500, "message": "查询失败，请稍后重试"})
    error = fetch_error(client, yesterday)
    assert (error.kind, error.status, error.retryable) == ("envelope", 500, False)
    assert "查询失败，请稍后重试" in error.user_message()


@pytest.mark.parametrize("kind, note", [("truncated", "invalid or truncated JSON"),
                                        ("html", "HTML instead of JSON")])
def test_it_reports_a_malformed_answer(client, sim, yesterday, kind, note):
    sim.set_faults(malformed={"kind": kind})
    error = fetch_error(client, yesterday)
    assert error.kind == "malformed"
    assert note in error.user_message()


def test_it_stops_reading_a_body_over_the_size_cap(client, sim, yesterday, settings):
    settings.VOS_MAX_BODY_BYTES = 200_000
    sim.set_faults(oversize={"size": 400_000})
    error = fetch_error(client, yesterday)
    assert error.kind == "too_large"


def test_it_times_out_on_a_silent_platform(client, sim, yesterday, settings):
    settings.VOS_READ_TIMEOUT = 0.3
    settings.VOS_RETRIES = 0
    sim.set_faults(delay={"seconds": 2})
    started = time.monotonic()
    error = fetch_error(client, yesterday)
    assert error.kind == "timeout"
    assert time.monotonic() - started < 1.5


def test_it_keeps_a_wall_clock_deadline_against_a_slow_drip(client, sim, yesterday, settings):
    # Each read returns within the read timeout, so only the day's deadline can stop it.
    settings.VOS_DAY_DEADLINE = 1.0
    sim.set_faults(drip={"interval": 0.05, "chunk": 64})
    started = time.monotonic()
    error = fetch_error(client, yesterday)
    assert error.kind == "timeout"
    assert time.monotonic() - started < 3


def test_it_reports_a_refused_connection(yesterday):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with VosClient(base_url=f"http://127.0.0.1:{port}/agent-api", user_id=PLATFORM_USER,
                   token=TOKEN) as client:
        error = fetch_error(client, yesterday)
    assert error.kind == "connection"
    assert "connection refused" in error.user_message()


def test_it_retries_server_errors_then_succeeds(client, sim, yesterday):
    sim.set_faults(status={"code": 503}, times=2)
    answer = client.fetch_day(yesterday, account_id=1)
    assert answer.records
    assert sim.stats()["by_status"] == {"200": 1, "503": 2}


def test_it_reports_server_errors_once_retries_run_out(client, sim, yesterday, settings):
    settings.VOS_RETRIES = 2
    sim.set_faults(status={"code": 500})
    with VosClient(base_url=sim.base_url, user_id=PLATFORM_USER, token=TOKEN) as fresh:
        error = fetch_error(fresh, yesterday)
    assert (error.kind, error.status, error.retryable) == ("server_error", 500, True)
    assert "服务器内部错误" in error.user_message()
    assert sim.stats()["by_status"]["500"] == 3  # the first try and two retries


@pytest.mark.parametrize("http_date", [False, True])
def test_it_waits_out_a_rate_limit(client, sim, yesterday, http_date):
    sim.set_faults(rate_limit={"retry_after": 2, "http_date": http_date}, times=1)
    started = time.monotonic()
    answer = client.fetch_day(yesterday, account_id=1)
    assert answer.records
    # An HTTP date has whole-second precision: "in 2 s" may mean just over 1 s.
    assert time.monotonic() - started >= 1.0


def test_it_caps_an_absurd_retry_after(sim, yesterday, settings):
    settings.VOS_RETRY_AFTER_MAX = 1
    sim.set_faults(rate_limit={"retry_after": 86_400}, times=1)
    with VosClient(base_url=sim.base_url, user_id=PLATFORM_USER, token=TOKEN) as client:
        started = time.monotonic()
        answer = client.fetch_day(yesterday, account_id=1)
    assert answer.records
    assert time.monotonic() - started < 5


def test_it_never_puts_the_token_in_errors_or_logs(sim, yesterday, all_logs, settings):
    settings.VOS_RETRIES = 1
    faults = [{"status": {"code": 500}}, {"malformed": {"kind": "html"}},
              {"envelope_error": True}, {"rate_limit": {"retry_after": 0}}]
    with VosClient(base_url=sim.base_url, user_id=PLATFORM_USER, token=TOKEN) as client:
        for fault in faults:
            sim.reset()
            sim.set_faults(**fault)
            error = fetch_error(client, yesterday)
            assert TOKEN not in str(error)
            assert TOKEN not in repr(error.__dict__)
    assert all_logs.records, "the fetches should have logged something"
    for record in all_logs.records:
        assert TOKEN not in record.getMessage()
