"""The assistant's reply written for an SMS: at most two SMS in GSM-7, link to the sheet.

Two SMS is 306 GSM-7 characters. Accents the alphabet lacks are dropped (`ê` → `e`) so a
reply never switches to UCS-2, which would halve what fits.
"""

from __future__ import annotations

from django.conf import settings

from guichet.assistant.answers import Reply
from guichet.notifications import gsm7
from guichet.notifications.ussd import short_title, shorten, to_gsm7

SMS_PARTS = 2
PREFIX = "Guichet : "
COUNTRY_CODES = {"+223": "ML", "+226": "BF", "+227": "NE"}


def country_of(number: str) -> str | None:
    """The country of a phone number in E.164, among the three the platform serves."""
    return next((c for prefix, c in COUNTRY_CODES.items() if number.startswith(prefix)), None)


def _absolute(path: str) -> str:
    return settings.GUICHET_PUBLIC_URL.rstrip("/") + path


def sms_reply(reply: Reply) -> str:
    """The reply in at most two GSM-7 SMS: what the web page says, shortened, with the
    address of the official sheet kept whole."""
    room = gsm7.CONCATENATED_SEPTETS * SMS_PARTS
    if reply.outcome == "answer" and reply.procedure is not None:
        link = " " + _absolute(reply.procedure.url)
        head = PREFIX + short_title(reply.procedure.title, 60) + "."
        body = " ".join(f"{p.label.rstrip(' ?')} : {p.text}." for p in reply.parts)
        text = to_gsm7(f"{head} {body}")
        return _fit(text, room - len(link)) + link
    if reply.outcome == "suggest":
        names = " ; ".join(short_title(s.title, 50) for s in reply.suggestions)
        text = to_gsm7(
            f"{PREFIX}précisez votre question. Vouliez-vous dire : {names} ? "
            "Envoyez QUESTION puis le nom de la démarche."
        )
        return _fit(text, room)
    if reply.outcome == "greeting":
        return to_gsm7(
            f"{PREFIX}envoyez QUESTION puis votre question, ex. QUESTION prix du passeport."
        )
    return _fit(to_gsm7(f"{PREFIX}{reply.lead} {reply.contact}"), room)


def _fit(text: str, limit: int) -> str:
    """`text` (GSM-7) cut after a whole word to at most `limit` septets (a character of the
    extension table, such as `€`, takes two)."""
    length = len(text)
    while (gsm7.septets(text) or 0) > limit:
        length -= (gsm7.septets(text) or 0) - limit
        text = shorten(text, max(length, 4))
    return text
