from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ErpSyncConfig(AppConfig):
    name = "erp_sync"
    verbose_name = _("ERP sync")

    def ready(self) -> None:
        # Registers the periodic jobs (register_periodic) in every process, beat included.
        from erp_sync import tasks  # noqa: F401
        from erp_sync.metrics import inbox_failed_gauge
        from oms.metrics import register_scrape_gauge

        register_scrape_gauge(inbox_failed_gauge)
