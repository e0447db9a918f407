from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "guichet.core"
    label = "core"

    def ready(self) -> None:
        from guichet.core import checks  # noqa: F401 - registers the system checks
