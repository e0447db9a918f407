from django.apps import AppConfig


class FormdefsConfig(AppConfig):
    name = "guichet.formdefs"
    label = "formdefs"
    verbose_name = "Formulaires en ligne des démarches"
