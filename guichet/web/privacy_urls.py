"""'Mes données' and, for staff, the requests on personal data to answer. Included by
guichet/urls.py under i18n_patterns."""

from django.urls import path

from guichet.web import privacy_views as views

app_name = "privacy"

urlpatterns = [
    path("mes-donnees/", views.home, name="home"),
    path("mes-donnees/demandes/", views.submit_request, name="request"),
    path("mes-donnees/export.json", views.export_json, name="export-json"),
    path("mes-donnees/export/", views.export_html, name="export-html"),
    path("demarches/<slug:procedure_id>/mentions/<int:number>/", views.notice, name="notice"),
    path(
        "mes-demarches/<str:reference>/consentement/",
        views.withdraw_consent,
        name="withdraw-consent",
    ),
    path("instruction/demandes-donnees/", views.staff_requests, name="staff-requests"),
    path("instruction/demandes-donnees/<int:pk>/", views.staff_answer, name="staff-answer"),
]
