"""`oms_erp_system CODE --adapter http_json|file_drop|simulator [...]`: create or update an ERP connection."""

from django.core.management.base import BaseCommand, CommandError

from erp_sync.addresses import AddressRefused, check_base_url
from erp_sync.services import erp_system_configure
from oms.lib.cli import add_secret_arguments, read_secret
from oms.models import ErpSystem


class Command(BaseCommand):
    help = (
        "Create or update an ERP connection (idempotent). Token and secret are stored encrypted; with "
        "--token-stdin and --secret-stdin the token is the first line of standard input, the secret the second."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--adapter", required=True, choices=ErpSystem.Adapter.values)
        parser.add_argument("--base-url")
        add_secret_arguments(parser, "token", "bearer token")
        add_secret_arguments(parser, "secret", "HMAC secret")
        parser.add_argument("--poll-seconds", type=int)
        parser.add_argument("--disable", action="store_true")

    def handle(self, *args, code, adapter, base_url, poll_seconds, disable, **options):
        token, secret = read_secret(self, options, "token"), read_secret(self, options, "secret")
        code = code.strip()
        if not code or len(code) > 30:
            raise CommandError("CODE must be 1 to 30 characters.")
        if poll_seconds is not None and poll_seconds < 1:
            raise CommandError("--poll-seconds must be at least 1.")
        if adapter == ErpSystem.Adapter.HTTP_JSON and base_url is not None:
            try:
                check_base_url(base_url)
            except AddressRefused as refused:
                raise CommandError(str(refused)) from refused
        system, result = erp_system_configure(
            code=code,
            adapter=adapter,
            base_url=base_url,
            token=token,
            secret=secret,
            poll_seconds=poll_seconds,
            enabled=not disable,
        )
        state = "enabled" if system.enabled else "disabled"
        default = ", default" if system.is_default else ""
        self.stdout.write(f"ERP system {system.code} {result} ({system.adapter}, {state}{default})")
