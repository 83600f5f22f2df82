import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from dashboard import crypto
from dashboard.models import Credential
from tests.conftest import TOKEN, make_credential


def test_it_stores_the_token_encrypted(db, user):
    credential = make_credential(user, "http://127.0.0.1:1/agent-api")
    stored = Credential.objects.values_list("token_encrypted", flat=True).get()
    assert TOKEN not in stored
    assert Credential.objects.get().get_token() == TOKEN
    assert credential.token_hint == "••••" + TOKEN[-4:]


def test_it_raises_on_a_wrong_key_instead_of_returning_ciphertext(db, user, settings):
    make_credential(user, "http://127.0.0.1:1/agent-api")
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.TokenDecryptionError) as caught:
        Credential.objects.get().get_token()
    assert TOKEN not in str(caught.value)


def test_it_rotates_tokens_to_a_new_key(db, user, settings):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    make_credential(user, "http://127.0.0.1:1/agent-api")
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_token_key")
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    assert Credential.objects.get().get_token() == TOKEN
