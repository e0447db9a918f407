from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "guichet.governance"
    label = "governance"
    verbose_name = "Gouvernance des données"
