"""A citizen's dossiers. Included by guichet/urls.py under i18n_patterns."""

from django.urls import path

from guichet.web import dossier_views as views

app_name = "dossiers"

urlpatterns = [
    path("demarches/<slug:procedure_id>/en-ligne/", views.start, name="start"),
    path("mes-demarches/", views.my_dossiers, name="list"),
    path("mes-demarches/<str:reference>/", views.detail, name="detail"),
    path("mes-demarches/<str:reference>/pages/<slug:page_id>/", views.page, name="page"),
    path(
        "mes-demarches/<str:reference>/pages/<slug:page_id>/fichiers/<str:field_name>/",
        views.upload,
        name="upload",
    ),
    path(
        "mes-demarches/<str:reference>/fichiers/<str:attachment_id>/",
        views.download,
        name="download",
    ),
    path(
        "mes-demarches/<str:reference>/fichiers/<str:attachment_id>/retirer/",
        views.remove_file,
        name="remove-file",
    ),
    path("mes-demarches/<str:reference>/recapitulatif/", views.summary, name="summary"),
    path("mes-demarches/<str:reference>/messages/", views.post_message, name="messages"),
    path("mes-demarches/<str:reference>/deposer/", views.submit, name="submit"),
    path("mes-demarches/<str:reference>/renvoyer/", views.resubmit, name="resubmit"),
    path("mes-demarches/<str:reference>/recepisse.pdf", views.receipt, name="receipt"),
    path(
        "mes-demarches/<str:reference>/documents/<str:number>.pdf",
        views.document,
        name="document",
    ),
]
