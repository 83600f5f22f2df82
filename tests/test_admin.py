"""Credentials in the admin: write-only token, per-user visibility, test connection."""

import pytest
from django.urls import reverse

from dashboard.models import Credential
from tests.conftest import PLATFORM_USER, TOKEN, make_credential

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("carol", password="pw-carol-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="dashboard",
        codename__in=["view_credential", "change_credential", "add_credential",
                      "add_vosaccount", "change_vosaccount", "view_vosaccount", "delete_vosaccount"]))
    return user


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", password="pw-root-123")


def form_data(**overrides):
    data = {"label": "Main", "base_url": "http://127.0.0.1:9/agent-api",
            "platform_user_id": PLATFORM_USER, "token": "",
            "accounts-TOTAL_FORMS": "1", "accounts-INITIAL_FORMS": "0",
            "accounts-MIN_NUM_FORMS": "0", "accounts-MAX_NUM_FORMS": "1000",
            "accounts-0-account_id": "7", "accounts-0-label": "Sales"}
    data.update(overrides)
    return data


def test_it_encrypts_a_token_entered_in_the_admin_and_never_shows_it(client, staff):
    client.force_login(staff)
    response = client.post(reverse("admin:dashboard_credential_add"), form_data(token=TOKEN))
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = Credential.objects.get()
    assert credential.user == staff
    assert credential.get_token() == TOKEN and TOKEN not in credential.token_encrypted
    assert list(credential.accounts.values_list("account_id", flat=True)) == [7]
    page = client.get(reverse("admin:dashboard_credential_change", args=[credential.pk]))
    body = page.content.decode()
    assert TOKEN not in body and credential.token_encrypted not in body
    assert "••••" + TOKEN[-4:] in body
    listing = client.get(reverse("admin:dashboard_credential_changelist")).content.decode()
    assert TOKEN not in listing


def test_it_keeps_the_stored_token_when_the_field_is_left_blank(client, staff):
    credential = make_credential(staff, "http://127.0.0.1:9/agent-api", accounts=())
    client.force_login(staff)
    response = client.post(reverse("admin:dashboard_credential_change", args=[credential.pk]),
                           form_data(label="Renamed"))
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.label == "Renamed" and credential.get_token() == TOKEN


def test_it_requires_a_token_for_a_new_credential(client, staff):
    client.force_login(staff)
    response = client.post(reverse("admin:dashboard_credential_add"), form_data())
    assert response.status_code == 200
    assert not Credential.objects.exists()


def test_it_rejects_a_platform_user_id_that_is_not_a_uuid(client, staff):
    client.force_login(staff)
    response = client.post(reverse("admin:dashboard_credential_add"),
                           form_data(token=TOKEN, platform_user_id="not-a-uuid"))
    assert response.status_code == 200
    assert not Credential.objects.exists()


def test_staff_see_and_edit_only_their_own_credentials(client, staff, other_user):
    mine = make_credential(staff, "http://127.0.0.1:9/agent-api")
    theirs = make_credential(other_user, "http://127.0.0.1:9/agent-api")
    client.force_login(staff)
    listing = client.get(reverse("admin:dashboard_credential_changelist")).content.decode()
    assert mine.label in listing and theirs.label not in listing
    other = client.get(reverse("admin:dashboard_credential_change", args=[theirs.pk]))
    assert other.status_code == 302  # the admin's "doesn't exist" redirect
    assert client.post(reverse("admin:dashboard_credential_change", args=[theirs.pk]),
                       form_data(label="hijack")).status_code == 302
    theirs.refresh_from_db()
    assert theirs.label != "hijack"


def test_a_superuser_sees_every_credential_and_the_user_page_inline(client, admin_user, other_user):
    theirs = make_credential(other_user, "http://127.0.0.1:9/agent-api")
    client.force_login(admin_user)
    listing = client.get(reverse("admin:dashboard_credential_changelist")).content.decode()
    assert theirs.label in listing
    user_page = client.get(reverse("admin:auth_user_change", args=[other_user.pk])).content.decode()
    assert theirs.label in user_page and TOKEN not in user_page


def test_the_test_connection_action_reports_success_and_the_platform_error(client, staff, sim):
    credential = make_credential(staff, sim.base_url)
    client.force_login(staff)
    url = reverse("admin:dashboard_credential_changelist")
    ok = client.post(url, {"action": "test_connection", "_selected_action": [credential.pk]},
                     follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "connected;" in ok.content.decode() and "calls on" in ok.content.decode()
    sim.set_faults(status={"code": 401, "message": "令牌无效或已过期"})
    failed = client.post(url, {"action": "test_connection", "_selected_action": [credential.pk]},
                         follow=True, HTTP_ACCEPT_LANGUAGE="en")
    body = failed.content.decode()
    assert "令牌无效或已过期" in body
    assert TOKEN not in body


def test_a_credential_without_accounts_gets_the_platforms_first_account(client, staff):
    client.force_login(staff)
    client.post(reverse("admin:dashboard_credential_add"),
                form_data(token=TOKEN, **{"accounts-0-account_id": "", "accounts-0-label": ""}))
    credential = Credential.objects.get()
    assert [account.account_id for account in credential.accounts.all()] == [None]
    page = client.get(reverse("calls"))
    assert page.context["account"].credential == credential
