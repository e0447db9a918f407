"""Sign-in and the citizen's own pages. Included by guichet/urls.py under i18n_patterns."""

from django.conf import settings
from django.urls import URLPattern, path

from guichet.web import accounts_views as views

app_name = "accounts"

urlpatterns: list[URLPattern] = [
    path("connexion/", views.login_phone, name="login"),
    path("connexion/code/", views.login_code, name="login-code"),
    path("connexion/code/renvoyer/", views.resend_code, name="login-resend"),
    path("deconnexion/", views.logout_page, name="logout"),
    path("mon-compte/", views.profile, name="profile"),
]

if settings.DEBUG:
    # Development only: read the SMS the outbox backend kept (sign-in codes included).
    # Not routed at all otherwise, so production answers the same 404 as any missing page.
    urlpatterns.append(path("dev/sms/", views.sms_outbox, name="sms-outbox"))
