"""Governance pages. Included by guichet/urls.py under i18n_patterns."""

from django.urls import path

from guichet.web import governance_views as views

app_name = "governance"

urlpatterns = [
    path("algorithmes/", views.algorithm_register, name="algorithms"),
    path("registre/", views.processing_register, name="register"),
    path("registre.csv", views.processing_register_csv, name="register-csv"),
    path("registre.ods", views.processing_register_ods, name="register-ods"),
]
