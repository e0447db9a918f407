"""The project's routes plus one view someone forgot to protect (tests/test_access_matrix.py)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from guichet.urls import urlpatterns as project_urlpatterns


def forgotten(request: HttpRequest) -> HttpResponse:
    return HttpResponse("tous les dossiers")


urlpatterns = [
    *project_urlpatterns,
    path("", include(([path("instruction/oubli/", forgotten, name="forgotten")], "backoffice"))),
]
