import logging
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import Credential, VosAccount
from dashboard.simulator import SimulatorConfig, start_simulator

PLATFORM_USER = "5832d184-dd53-42a0-8ace-0bf8d660f4cc"
# Long and distinctive so that a leak anywhere is found by a plain substring search.
TOKEN = "tok-SECRET-" + uuid.uuid5(uuid.NAMESPACE_URL, "vos-test").hex


@pytest.fixture(autouse=True)
def _fast_upstream(settings):
    """Retries keep their shape but not their waiting, so fault tests stay quick."""
    settings.VOS_BACKOFF = 0.01
    settings.VOS_RETRY_AFTER_MAX = 2
    settings.VOS_READ_TIMEOUT = 5
    settings.VOS_DAY_DEADLINE = 20
    settings.VOS_PAGE_SIZE = 500
    # Worker threads have their own connections and cannot see a test's uncommitted
    # rows; tests of the parallel path use transactional_db and set this themselves.
    settings.SYNC_PARALLELISM = 1


@pytest.fixture(scope="session")
def simulator():
    """One simulator over real HTTP for the session; faults are reset for every test."""
    config = SimulatorConfig(users={PLATFORM_USER: TOKEN}, calls_per_day=300)
    handle = start_simulator(config)
    yield handle
    handle.stop()


@pytest.fixture
def sim(simulator):
    simulator.reset()
    simulator.config.paging = "list"
    simulator.config.calls_per_day = 300
    yield simulator
    simulator.reset()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", password="pw-bob-123")


def make_credential(owner, base_url, *, token=TOKEN, user_id=PLATFORM_USER, accounts=(1,)):
    credential = Credential(user=owner, label=f"{owner.username} platform", base_url=base_url,
                            platform_user_id=user_id)
    credential.set_token(token)
    credential.save()
    for account_id in accounts:
        VosAccount.objects.create(credential=credential, account_id=account_id,
                                  label=f"account {account_id}")
    return credential


@pytest.fixture
def credential(user, sim):
    return make_credential(user, sim.base_url)


@pytest.fixture
def account(credential):
    return credential.accounts.get()


@pytest.fixture
def yesterday():
    return timezone.localdate() - timedelta(days=1)


@pytest.fixture
def all_logs(caplog):
    """Every log record of every logger, at every level."""
    caplog.set_level(logging.DEBUG)
    return caplog
