from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "guichet.workflow"
    label = "workflow"
    verbose_name = "Instruction des dossiers"
