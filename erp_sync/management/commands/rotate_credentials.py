"""`rotate_credentials`: re-encrypt the stored ERP credentials under the first `OMS_CREDENTIAL_KEYS` key."""

from django.core.management.base import BaseCommand, CommandError

from erp_sync.services import erp_credentials_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored ERP token and secret with the first key of OMS_CREDENTIAL_KEYS, so the "
        "older keys can be removed. Fails, after re-encrypting the rest, when a value cannot be read."
    )

    def handle(self, *args, **options):
        rotated, unreadable = erp_credentials_rotate()
        self.stdout.write(f"rotated {rotated} credentials")
        if unreadable:
            raise CommandError(
                f"cannot decrypt the stored credentials of {', '.join(unreadable)} with any key: "
                "set them again with oms_erp_system."
            )
