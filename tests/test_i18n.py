"""The interface speaks Simplified Chinese by default and English on request, and the
zh_Hans catalog is complete, placeholder-safe and compiled."""

import gettext
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")


@pytest.fixture
def logged_in(client, user, account):
    client.force_login(user)
    return client


def html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def script_text(page: str) -> dict:
    data = re.search(r'<script id="charts-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(data.group(1))["text"]


def test_it_shows_the_calls_page_in_chinese_without_an_accept_language_header(logged_in):
    page = html(logged_in.get(reverse("calls")))
    assert '<html lang="zh-hans">' in page
    for text in ("话单看板", "主叫", "被叫", "通话时长", "呼叫类型", "客户名称", "客户账号",
                 "接通率", "从平台刷新"):
        assert text in page, text
    assert "Caller" not in page and "Refresh from the platform" not in page


def test_it_shows_the_charts_page_in_chinese_without_an_accept_language_header(logged_in):
    page = html(logged_in.get(reverse("charts")))
    assert '<html lang="zh-hans">' in page
    for text in ("图表", "接通率 (ASR)", "平均通话时长 (ACD)", "通话分钟数", "每日明细"):
        assert text in page, text
    assert "Answer rate" not in page and "Day by day" not in page
    # charts.js takes its words from the page's data, in the page's language.
    assert script_text(page)["not_answered"] == "未接通"


def test_it_switches_to_english_and_remembers_the_choice(logged_in):
    response = logged_in.post(reverse("set_language"), {"language": "en", "next": reverse("calls")})
    assert response.status_code == 302 and response["Location"] == reverse("calls")
    assert logged_in.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"

    calls = html(logged_in.get(reverse("calls")))
    assert '<html lang="en">' in calls
    assert "Caller" in calls and "Refresh from the platform" in calls
    assert "主叫" not in calls

    # A later request, with nothing but the cookie to go by, is still in English.
    charts = html(logged_in.get(reverse("charts")))
    assert '<html lang="en">' in charts
    assert "Answer rate (ASR)" in charts and "Day by day" in charts
    assert "接通率" not in charts
    assert script_text(charts)["not_answered"] == "Not answered"


def test_it_switches_back_to_chinese(logged_in):
    logged_in.post(reverse("set_language"), {"language": "en", "next": reverse("calls")})
    logged_in.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("calls")})
    page = html(logged_in.get(reverse("calls")))
    assert '<html lang="zh-hans">' in page and "主叫" in page


def test_it_offers_both_languages_in_their_own_names(logged_in):
    page = html(logged_in.get(reverse("calls")))
    assert "简体中文" in page and "English" in page


# --- the catalog --------------------------------------------------------------------

def _unquote(line: str) -> str:
    text = line.strip()[1:-1]
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def catalog() -> list[dict]:
    """The .po's live entries as {"msgid", "msgid_plural", "msgstr": [...], "flags"}.
    A small reader: polib is not a dependency of the project."""
    entries = []
    for block in PO_FILE.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue  # obsolete entries ("#~ msgid …") are all comment lines: skipped below
        entry = {"msgid": None, "msgid_plural": None, "msgstr": {}, "flags": set()}
        key = None
        for line in lines:
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line):
                name, index, value = match.groups()
                key = ("msgstr", int(index or 0)) if name.startswith("msgstr") else name
                text = _unquote(value)
                if isinstance(key, tuple):
                    entry["msgstr"][key[1]] = text
                else:
                    entry[key] = text
            elif line.startswith('"') and key is not None:
                if isinstance(key, tuple):
                    entry["msgstr"][key[1]] += _unquote(line)
                else:
                    entry[key] += _unquote(line)
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


def messages() -> list[dict]:
    return [entry for entry in catalog() if entry["msgid"] != ""]


def test_it_has_a_catalog_with_one_plural_form():
    header = next(entry for entry in catalog() if entry["msgid"] == "")
    assert "fuzzy" not in header["flags"]
    assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"][0]
    assert "Language: zh_Hans" in header["msgstr"][0]
    assert len(messages()) > 100


def test_it_translates_every_message_with_its_placeholders():
    problems = []
    for entry in messages():
        sources = [entry["msgid"]] + ([entry["msgid_plural"]] if entry["msgid_plural"] else [])
        wanted = sorted(PLACEHOLDER.findall(entry["msgid"]))
        if "fuzzy" in entry["flags"]:
            problems.append(("fuzzy", entry["msgid"]))
        if entry["msgid_plural"] is not None and sorted(entry["msgstr"]) != [0]:
            problems.append(("Chinese has exactly one plural form", entry["msgid"]))
        for translation in entry["msgstr"].values():
            if not translation.strip():
                problems.append(("untranslated", entry["msgid"]))
            elif sorted(PLACEHOLDER.findall(translation)) != wanted:
                problems.append(("placeholders differ", entry["msgid"], translation))
        for source in sources[1:]:
            # The plural's placeholders must be the singular's, or one form would lose one.
            if sorted(PLACEHOLDER.findall(source)) != wanted:
                problems.append(("singular and plural differ", entry["msgid"]))
    assert problems == []


def test_it_ships_a_compiled_catalog_that_matches_the_po():
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in messages():
        if entry["msgid_plural"] is not None:
            got = compiled.ngettext(entry["msgid"], entry["msgid_plural"], 2)
        else:
            got = compiled.gettext(entry["msgid"])
        if got != entry["msgstr"][0]:
            stale.append(entry["msgid"])
    assert stale == [], "run: manage.py compilemessages --ignore=.venv"


@pytest.mark.skipif(shutil.which("msgfmt") is None,
                    reason="GNU gettext's msgfmt is not installed (apt-get install gettext)")
def test_it_has_no_untranslated_or_fuzzy_messages_by_msgfmt():
    result = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO_FILE)],
                            capture_output=True, text=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    statistics = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ translated messages?\.", statistics), statistics
    assert "untranslated" not in statistics and "fuzzy" not in statistics
