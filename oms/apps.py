import logging

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS platform"

    def ready(self) -> None:
        from oms import roles

        # Permissions of models added after the roles migration reach the groups here.
        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)
        if not settings.REDIS_URL:  # production refuses to start without it (oms.settings)
            logger.warning(
                "REDIS_URL is not set: the cache and the rate limits (sign-in, sign-up, password reset, "
                "orders) are kept per process, so each web worker counts on its own."
            )
