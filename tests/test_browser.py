"""End to end in Debian's Chromium (Playwright, never a downloaded browser) against the
live server and the simulator. Screenshots land in test-output/."""

import csv
import io
import os
import re
import shutil
from pathlib import Path

import pytest

from dashboard.phone import number_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-output"
if not shutil.which(CHROMIUM):
    pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does)", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make themselves (fixtures) are still synchronous and safe. Only while they run.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server, user, account, settings):
    settings.PAGE_SYNC_SECONDS = 10
    context = browser.new_context(base_url=live_server.url, locale="en-US", accept_downloads=True,
                                  viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.csp_violations = []
    tab.on("console", lambda message: "Content Security Policy" in message.text
           and tab.csp_violations.append(message.text))
    tab.goto("/accounts/login/")
    tab.fill("#id_username", "alice")
    tab.fill("#id_password", "pw-alice-123")
    tab.click("button.primary")
    tab.wait_for_url(re.compile(r"/calls/"))
    yield tab
    tab.wait_for_load_state("networkidle")
    assert tab.csp_violations == []
    context.close()


def shot(tab, name):
    SHOTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def column(tab, index):
    return tab.locator(f"table.calls tbody tr td:nth-child({index})").all_inner_texts()


def test_a_support_person_finds_sorts_pages_and_exports_calls(page):
    assert page.locator("table.calls tbody tr").count() == 50
    shot(page, "calls")

    page.select_option("select[name=caller_match]", "begins")
    page.fill("input[name=caller]", "13")
    page.click("#call-filters button.primary")
    page.wait_for_url(re.compile(r"caller=13"))
    assert all(number_key(number).startswith("13") for number in column(page, 1))

    page.click("table.calls thead th >> text=Fee")
    page.wait_for_url(re.compile(r"sort=fee"))
    fees = [float(text) for text in column(page, 6)]
    assert fees == sorted(fees)

    page.click(".page-size >> text=25")
    page.wait_for_url(re.compile(r"per_page=25"))
    assert page.locator("table.calls tbody tr").count() == 25
    page.click(".pagination >> text=2")
    page.wait_for_url(re.compile(r"page=2"))
    assert "caller=13" in page.url and "sort=fee" in page.url
    shot(page, "calls-filtered")

    calls = int(page.locator(".summary .kpi .value").first.inner_text().replace(",", ""))
    with page.expect_download() as download_info:
        page.click(".exports >> text=CSV")
    content = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    assert len(rows) - 1 == calls
    assert all(number_key(row[0]).startswith("13") for row in rows[1:])


def test_refresh_and_a_failing_platform_show_in_a_banner(page, sim):
    page.click("text=Refresh from the platform")
    page.wait_for_selector(".message.success")
    sim.set_faults(envelope_error={"message": "账号余额不足，查询失败"})
    page.click("text=Refresh from the platform")
    banner = page.wait_for_selector(".banner.error")
    assert "账号余额不足，查询失败" in banner.inner_text()
    assert page.locator("table.calls tbody tr").count() == 50  # the stored day still shows
    shot(page, "calls-error")


def test_a_manager_sees_drawn_charts_and_clicks_through_to_a_day(page):
    page.goto("/charts/?date_from=" + _days_ago(7) + "&date_to=" + _days_ago(1))
    # Missing days are fetched by the page in batches, then it reloads itself.
    page.wait_for_selector("canvas#chart-daily-calls", timeout=60_000)
    page.wait_for_load_state("networkidle")
    canvases = page.locator("canvas").all()
    assert len(canvases) >= 4
    for canvas in canvases:
        painted = canvas.evaluate(
            """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""")
        assert painted > 500, canvas.get_attribute("id")
    shot(page, "charts")
    page.locator("table.daily tbody a").first.click()
    page.wait_for_url(re.compile(r"/calls/\?.*date_from="))
    assert page.locator("table.calls tbody tr").count() > 0


def _days_ago(n):
    from datetime import timedelta

    from django.utils import timezone

    return str(timezone.localdate() - timedelta(days=n))
