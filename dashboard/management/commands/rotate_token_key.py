from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dashboard import crypto
from dashboard.models import Credential


class Command(BaseCommand):
    help = ("Re-encrypt every stored token with the first key of TOKEN_ENCRYPTION_KEYS. "
            "Put the new key first, keep the old ones after it, run this, then drop the old keys.")

    def handle(self, *args, **options):
        failed = []
        with transaction.atomic():
            for credential in Credential.objects.select_for_update().order_by("pk"):
                try:
                    credential.token_encrypted = crypto.rotate(credential.token_encrypted)
                except crypto.TokenDecryptionError:
                    failed.append(credential.pk)
                    continue
                credential.save(update_fields=["token_encrypted"])
            if failed:
                raise CommandError(
                    f"no configured key decrypts credential(s) {failed}; nothing was changed"
                )
        self.stdout.write(f"Re-encrypted {Credential.objects.count()} token(s) with the newest key.")
