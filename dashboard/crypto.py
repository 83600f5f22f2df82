"""The bearer token at rest: Fernet with keys from settings, rotatable.

Our own field rather than a package: the maintained one (django-fernet-encrypted-fields)
returns the ciphertext when the key is wrong, and we would send it as a bearer token.
Here a wrong key raises, loudly, and never says the value.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenDecryptionError(Exception):
    """The stored token cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise TokenDecryptionError("TOKEN_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        # Deliberately says nothing of the value.
        raise TokenDecryptionError(
            "the stored token cannot be decrypted with TOKEN_ENCRYPTION_KEYS"
        ) from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key; raises TokenDecryptionError if no key fits."""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenDecryptionError(
            "the stored token cannot be decrypted with TOKEN_ENCRYPTION_KEYS"
        ) from None
