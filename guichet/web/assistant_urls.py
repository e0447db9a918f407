"""The assistant. Included by guichet/urls.py under i18n_patterns."""

from django.urls import path

from guichet.web import assistant_views as views

app_name = "assistant"

urlpatterns = [
    path("question/", views.question, name="question"),
    path("question/avis/", views.feedback, name="feedback"),
    path("api/assistant/", views.api, name="api"),
]
