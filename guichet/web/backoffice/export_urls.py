"""Exports of a service's queue; spliced into the "backoffice" namespace by urls.py."""

from django.urls import URLPattern, path

from guichet.web.backoffice import export_views

urlpatterns: list[URLPattern] = [
    path("instruction/services/<slug:service_id>/exports/", export_views.exports, name="exports"),
    path(
        "instruction/exports/<int:export_id>/", export_views.export_download, name="export-download"
    ),
]
