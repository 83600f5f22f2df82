"""Security promises that hold for the whole site."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"login", "set_language"}


def walk(patterns, prefix=""):
    for pattern in patterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern):
            yield pattern.name, prefix + route


def concrete(route: str) -> str | None:
    """A URL for a route with its parameters filled in (None for regex-only routes)."""
    path = re.sub(r"<int:[^>]+>", "1", route)
    path = re.sub(r"<(?:str|slug|path):[^>]+>|<[^:>]+>", "x", path)
    if any(ch in path for ch in "^$()[]?*+\\"):
        return None
    return "/" + path


def test_every_page_but_login_requires_login(client):
    checked = 0
    for name, route in walk(get_resolver().url_patterns):
        url = concrete(route)
        if url is None or name in PUBLIC:
            continue
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, (url, response.status_code)
            assert "login" in response["Location"], url
        checked += 1
    assert checked >= 8


def test_the_login_page_and_the_language_switch_are_public(client):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.status_code == 302 and response["Location"] == reverse("login")


def test_every_page_sends_a_strict_content_security_policy(client, user):
    client.force_login(user)
    policy = client.get(reverse("calls"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_password_guessing_is_locked_out(client, user):
    for _ in range(5):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "x" * 30 + "-kT9!vQ2#pL7@wR4$zN8%" + "y" * 20,
           "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
           "ALLOWED_HOSTS": "cdr.example.com", "SQLITE_PATH": str(tmp_path / "db.sqlite3")}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "DATABASE_URL")}
    env.update(DEBUG="false", ALLOWED_HOSTS="cdr.example.com")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_token_is_in_no_response_body_or_header(client, user, account, sim, settings, all_logs):
    from tests.conftest import TOKEN

    settings.VOS_RETRIES = 0
    client.force_login(user)
    user.is_staff = user.is_superuser = True
    user.save()
    urls = [reverse("calls"), reverse("calls-export-csv"), reverse("calls-export-xlsx"),
            reverse("charts"), reverse("charts-export-csv"),
            reverse("admin:dashboard_credential_changelist"),
            reverse("admin:dashboard_credential_change", args=[account.credential_id]),
            reverse("admin:auth_user_change", args=[user.pk]),
            reverse("admin:dashboard_syncstate_changelist")]
    for fault in (None, {"status": {"code": 500}}, {"envelope_error": True}):
        sim.reset()
        if fault:
            sim.set_faults(**fault)
        client.post(reverse("calls-refresh"), {"query": ""})
        for url in urls:
            response = client.get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert TOKEN.encode() not in body, url
            assert all(TOKEN not in value for value in response.headers.values()), url
    assert all(TOKEN not in record.getMessage() for record in all_logs.records)
