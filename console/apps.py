from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("Console")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from console.middleware import mark_signed_in

        user_logged_in.connect(mark_signed_in, dispatch_uid="console.staff_signed_in")
        # Registers the periodic jobs (register_periodic) in every process, beat included.
        from console import tasks  # noqa: F401
