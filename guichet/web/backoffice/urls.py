"""The back office (`/instruction/`): queues, dossiers, exports. Staff only, with TOTP."""

from django.urls import path

from guichet.web.backoffice import export_urls, procedure_views, views

app_name = "backoffice"

urlpatterns = [
    path("instruction/", views.home, name="home"),
    path("instruction/services/<slug:service_id>/", views.queue, name="queue"),
    path(
        "instruction/services/<slug:service_id>/attribuer/", views.assign_many, name="assign-many"
    ),
    path("instruction/services/<slug:service_id>/charge/", views.workload, name="workload"),
    path("instruction/dossiers/<str:reference>/", views.dossier_page, name="dossier"),
    path("instruction/dossiers/<str:reference>/motif/", views.give_purpose, name="purpose"),
    path("instruction/dossiers/<str:reference>/etat/", views.transition, name="transition"),
    path(
        "instruction/dossiers/<str:reference>/complement/",
        views.request_information,
        name="request-info",
    ),
    path("instruction/dossiers/<str:reference>/attribution/", views.assign_one, name="assign"),
    path("instruction/dossiers/<str:reference>/messages/", views.post_message, name="message"),
    path("instruction/dossiers/<str:reference>/notes/", views.annotate, name="annotate"),
    path(
        "instruction/dossiers/<str:reference>/fichiers/<str:attachment_id>/",
        views.attachment,
        name="file",
    ),
    path(
        "instruction/dossiers/<str:reference>/documents/<str:number>.pdf",
        views.document,
        name="document",
    ),
    path(
        "instruction/dossiers/<str:reference>/documents/<str:number>/annuler/",
        views.revoke_document,
        name="revoke-document",
    ),
    *export_urls.urlpatterns,
    path("instruction/demarches/", procedure_views.procedures, name="procedures"),
    path(
        "instruction/demarches/<slug:procedure_id>/",
        procedure_views.procedure,
        name="procedure",
    ),
    path(
        "instruction/demarches/<slug:procedure_id>/definition.yaml",
        procedure_views.procedure_yaml,
        name="procedure-yaml",
    ),
]
