"""The project's routes plus one JSON route nobody described (test_openapi.py)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from guichet.urls import urlpatterns as project_urlpatterns


def forgotten(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"dossiers": []})


urlpatterns = [*project_urlpatterns, path("api/oubli/", forgotten)]
