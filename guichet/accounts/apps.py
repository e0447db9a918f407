from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "guichet.accounts"
    label = "accounts"
    verbose_name = "Comptes"

    def ready(self) -> None:
        from guichet.accounts import checks  # noqa: F401 - registers the system checks
