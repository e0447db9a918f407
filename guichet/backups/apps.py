from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "guichet.backups"
    label = "backups"
    verbose_name = "Sauvegardes"
