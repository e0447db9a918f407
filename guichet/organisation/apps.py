from django.apps import AppConfig


class OrganisationConfig(AppConfig):
    name = "guichet.organisation"
    verbose_name = "Organisation"
