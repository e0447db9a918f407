from django.urls import path

from guichet.web import api_views, views

app_name = "public"

urlpatterns = [
    path("", views.home, name="home"),
    path("api/openapi.json", api_views.openapi, name="openapi"),
    path("demarches/", views.catalog, name="catalog"),
    path("demarches/<slug:procedure_id>/", views.procedure_detail, name="procedure"),
    path(
        "demarches/<slug:procedure_id>/versions/<int:number>/",
        views.procedure_version,
        name="procedure-version",
    ),
]
