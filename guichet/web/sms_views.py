"""What the SMS gateway (Kannel) calls: an SMS a citizen sent, and delivery reports.

Neither is a page: the gateway calls them over HTTP on the operator side. An incoming SMS
is answered in the response body, which Kannel's `get-url` service sends back to the
sender as the reply SMS (an empty body sends nothing). A delivery report's address holds
the notification's id and an HMAC of it, so nobody else can mark a message delivered.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from guichet.notifications import commands, services
from guichet.web.access import check_gateway_secret, public_page

TEXT = "text/plain; charset=utf-8"


def _param(request: HttpRequest, name: str) -> str:
    return (request.GET.get(name) or request.POST.get(name) or "").strip()


@public_page
@csrf_exempt
@require_http_methods(["GET", "POST"])
def incoming(request: HttpRequest) -> HttpResponse:
    """`get-url = …/passerelle/sms/entrant/?token=…&from=%p&text=%a&id=%I`"""
    check_gateway_secret(request, settings.SMS_INBOUND_TOKEN)
    sender, text = _param(request, "from"), _param(request, "text")
    if not sender:
        return HttpResponse("", content_type=TEXT, status=400)
    reply = commands.handle(sender=sender, text=text, provider_id=_param(request, "id"))
    return HttpResponse(reply, content_type=TEXT)


@public_page
@csrf_exempt
@require_http_methods(["GET", "POST"])
def delivery_report(request: HttpRequest, notification_id: int, token: str) -> HttpResponse:
    """`dlr-url = …/passerelle/sms/dlr/<id>/<hmac>/?status=%d`"""
    if not constant_time_compare(token, services.dlr_token(notification_id)):
        raise Http404
    try:
        code = int(_param(request, "status"))
    except ValueError:
        return HttpResponse("bad status\n", content_type=TEXT, status=400)
    if not services.record_delivery_report(notification_id=notification_id, code=code):
        raise Http404
    return HttpResponse("ok\n", content_type=TEXT)
