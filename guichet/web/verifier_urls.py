"""Verification of issued documents. Included by guichet/urls.py under i18n_patterns; the
QR's short address (`/V/<code>`) is routed there too, outside the language prefix."""

from django.urls import path

from guichet.web import verifier_views as views

app_name = "verifier"

urlpatterns = [
    path("verifier/", views.verify, name="verify"),
    path("verifier/cles/", views.keys, name="keys"),
    path("verifier/cles.json", views.keys_json, name="keys-json"),
    path("verifier/hors-ligne.html", views.offline_page, name="offline"),
]
