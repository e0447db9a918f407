from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "guichet.assistant"
    label = "assistant"
    verbose_name = "Assistant"
