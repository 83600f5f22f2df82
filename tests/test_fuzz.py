"""Random, huge, wrong-typed, repeated and missing query parameters: never a 500."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st

from dashboard import sync
from dashboard.records import parse_records

pytestmark = pytest.mark.django_db

PAGES = ["calls", "calls-export-csv", "charts"]
PARAMS = ["account", "credential", "date_from", "date_to", "caller", "caller_match", "callee",
          "callee_match", "call_level", "answered", "talk_min", "fee_min", "fee_max", "customer",
          "sort", "page", "per_page", "start", "end", "range"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(str),
    st.sampled_from(["", "-", "0", "1e999", "NaN", "-fee", "fee", "begins", "ends", "contains",
                     "2024-02-30", "9999-12-31", "0001-01-01", "\x00", "' OR 1=1 --", "<script>"]),
)
QUERY = st.lists(st.tuples(st.sampled_from(PARAMS), VALUES), max_size=8)


@pytest.fixture
def browsing(client, user, account):
    day = timezone.localdate() - timedelta(days=3)
    sync.replace_day(account=account, day=day, parsed=parse_records([], day))
    client.force_login(user)
    return client


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(page=st.sampled_from(PAGES), query=QUERY)
def test_no_query_string_makes_a_page_fail(browsing, sim, page, query, settings):
    settings.PAGE_SYNC_SECONDS = 2
    sim.set_faults(status={"code": 503})  # whatever days the input names, fetching fails fast
    settings.VOS_RETRIES = 0
    response = browsing.get(reverse(page), query)
    assert response.status_code in (200, 302, 404), (page, query, response.status_code)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
