"""What the USSD aggregator calls at each key press (Africa's Talking convention).

Not a page: the aggregator posts form data (`sessionId`, `serviceCode`, `phoneNumber`,
`networkCode`, `text`) from the operator side and sends the plain-text answer to the
phone. The menu itself is in notifications/ussd.py. When `USSD_TOKEN` is set, the callback
address configured at the aggregator carries it (`…/passerelle/ussd/?token=…`); anyone
else gets a 404, so they cannot look up dossiers while pretending to be a caller's number.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from guichet.notifications import ussd
from guichet.web.access import check_gateway_secret, public_page

TEXT = "text/plain; charset=utf-8"


@public_page
@csrf_exempt
@require_POST
def callback(request: HttpRequest) -> HttpResponse:
    """`POST /passerelle/ussd/?token=…`; answers `CON …` (waits for a key) or `END …`."""
    check_gateway_secret(request, settings.USSD_TOKEN)
    screen = ussd.reply(
        session_id=request.POST.get("sessionId", ""),
        phone_number=request.POST.get("phoneNumber", ""),
        text=request.POST.get("text", ""),
    )
    return HttpResponse(screen, content_type=TEXT)
