from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "guichet.retention"
    label = "retention"
    verbose_name = "Conservation des données"
