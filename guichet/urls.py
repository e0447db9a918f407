"""French pages live at the root (`/demarches/`); other languages under a prefix (`/en/…`)."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from guichet.web import sms_views, ussd_views, verifier_views, views

# The admin asks for the second factor too: its sign-in form takes the app's code, and a
# session that did not give it is refused as if it were not staff. The class of the
# default site is swapped (django-otp's documented way) so every `admin.register` stands.
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sante/", views.health, name="health"),
    # Signed links to stored files, on FILES_HOST only (guichet/web/files.py).
    path("", include("guichet.web.files")),
    # What a document's QR code holds (codes.code_url): short, upper case, no language.
    path("V/<str:code>", verifier_views.verify_link, name="verify-link"),
    path("v/<str:code>", verifier_views.verify_link, name="verify-link-lower"),
    # Called by the SMS gateway (Kannel) and the USSD aggregator, never by a browser.
    path("passerelle/sms/entrant/", sms_views.incoming, name="sms-incoming"),
    path(
        "passerelle/sms/dlr/<int:notification_id>/<str:token>/",
        sms_views.delivery_report,
        name="sms-dlr",
    ),
    path("passerelle/ussd/", ussd_views.callback, name="ussd"),
    *i18n_patterns(
        path("", include("guichet.web.urls")),
        path("", include("guichet.web.accounts_urls")),
        path("", include("guichet.web.dossier_urls")),
        path("", include("guichet.web.verifier_urls")),
        path("", include("guichet.web.assistant_urls")),
        path("", include("guichet.web.governance_urls")),
        path("", include("guichet.web.privacy_urls")),
        path("", include("guichet.web.backoffice.auth_urls")),
        path("", include("guichet.web.backoffice.urls")),
        prefix_default_language=False,
    ),
]
