from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScraperConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scraper"
    verbose_name = _("Scraper")

    def ready(self) -> None:
        from scraper.alerts import connect_backup_alerts

        # A failed database backup (otakusite.backups) is one of the operator's alerts.
        connect_backup_alerts()
