"""French pages live at the root (`/demarches/`); other languages under a prefix (`/en/…`)."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from guichet.web import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sante/", views.health, name="health"),
    *i18n_patterns(
        path("", include("guichet.web.urls")),
        path("", include("guichet.web.accounts_urls")),
        path("", include("guichet.web.dossier_urls")),
        prefix_default_language=False,
    ),
]
