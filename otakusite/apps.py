from django.apps import AppConfig


class OtakusiteConfig(AppConfig):
    """The project package as an app: operator commands (backup_db, restore_db) and the
    django-q2 task log lines (otakusite/logs.py)."""

    name = "otakusite"
    verbose_name = "otakusite"

    def ready(self) -> None:
        from otakusite.logs import connect_signals

        connect_signals()
