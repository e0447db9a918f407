"""Staff sign-in and the second factor's set-up. Included by guichet/urls.py under
i18n_patterns; the back office's own pages live under the same /instruction/ prefix."""

from django.urls import URLPattern, path

from guichet.web.backoffice import auth_views as views

app_name = "staff"

urlpatterns: list[URLPattern] = [
    path("instruction/connexion/", views.sign_in, name="login"),
    path("instruction/securite/", views.totp_setup, name="totp-setup"),
    path("instruction/deconnexion/", views.sign_out, name="logout"),
]
