from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "guichet.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from guichet.notifications import checks  # noqa: F401 - registers the system checks
