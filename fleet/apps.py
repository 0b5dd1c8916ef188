from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FleetConfig(AppConfig):
    name = "fleet"
    verbose_name = _("Fleet")

    def ready(self) -> None:
        from fleet.services.orders_port import FleetFulfilment
        from orders.ports import register_fulfilment

        register_fulfilment(FleetFulfilment())
        # Registers the periodic jobs (register_periodic) in every process, beat included.
        from fleet import tasks  # noqa: F401
