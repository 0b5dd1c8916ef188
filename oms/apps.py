from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS platform"

    def ready(self) -> None:
        from oms import roles

        # Permissions of models added after the roles migration reach the groups here.
        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)
