"""SMS commands a citizen sends to the service number: `STATUT <référence>`, `AIDE`, and
`QUESTION <question>` (or `AIDE <question>`, or just a question) answered by the assistant.

Tolerant of case, accents, spaces and synonyms (`suivi`, `status`, `État`…). Only the
number on the dossier gets its state; any other number gets the same neutral answer as
for an unknown reference, so an SMS reveals nothing, not even that a dossier exists.
Every incoming SMS is logged with its answer (`InboundSms`); a number that sends too many
gets no answer for a while (each answer costs the administration an SMS). Answers fit one
GSM-7 SMS and hold nothing personal but the reference and the state; the assistant's
answers fit two (assistant/channels.py).
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import transaction

from guichet.accounts.models import User
from guichet.assistant import channels
from guichet.assistant import services as assistant
from guichet.assistant.models import Channel
from guichet.catalog.search import fold
from guichet.core.ratelimit import Limit, RateLimited, consume
from guichet.documents.queries import with_standing_document
from guichet.dossiers import notices
from guichet.dossiers.models import Dossier, DossierStatus
from guichet.dossiers.references import parse_reference
from guichet.notifications import gsm7
from guichet.notifications.models import InboundSms

MESSAGES_PER_NUMBER = Limit("sms.inbound.number", 10, timedelta(hours=1))

STATUS_WORDS = {"STATUT", "STATUS", "SUIVI", "SUIVRE", "ETAT", "DOSSIER"}
HELP_WORDS = {"AIDE", "HELP", "INFO", "MENU", "?"}
QUESTION_WORDS = {"QUESTION", "QUESTIONS", "Q", "DEMANDE"}

HELP = (
    "Guichet : pour savoir où en est votre dossier, envoyez STATUT et sa référence, "
    "ex. STATUT ML-7K3Q-9DXC. Une question ? QUESTION prix du passeport."
)
ASK_REFERENCE = "Guichet : envoyez STATUT et la référence du dossier, ex. STATUT ML-7K3Q-9DXC."
NOT_FOUND = (
    "Guichet : aucun dossier à ce numéro avec cette référence. Vérifiez-la, ou écrivez "
    "depuis le numéro donné dans le dossier."
)


def sender_number(raw: str) -> str:
    """E.164 from what the gateway passes (`+22370123456`, `22370123456`, `0022370…`)."""
    digits = re.sub(r"[^\d+]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits and not digits.startswith("+"):
        digits = "+" + digits
    return digits[:20]


def status_text(dossier: Dossier) -> str:
    """The state and the next step, one GSM-7 SMS, nothing personal."""
    has_document = dossier.pk in with_standing_document([dossier.pk])
    return f"Guichet : {notices.state_text(dossier, has_document=has_document)}"


def ask_assistant(sender: str, question: str) -> str:
    """The assistant's answer in at most two SMS, for the sender's country."""
    asked = assistant.ask(
        question,
        country=channels.country_of(sender),
        channel=Channel.SMS,
        user=User.objects.filter(phone=sender).first(),
    )
    return channels.sms_reply(asked.reply)


def answer(sender: str, text: str) -> tuple[str, str]:
    """(command, reply) for one SMS from `sender` (E.164)."""
    words = fold(text).upper().replace(":", " ").split()
    if not words:
        return "vide", HELP
    keyword, rest = words[0], words[1:]
    question = (re.split(r"[\s:]+", text.strip(), maxsplit=1) + [""])[1]
    if keyword in HELP_WORDS | QUESTION_WORDS and question:
        return "question", ask_assistant(sender, question)
    if keyword in HELP_WORDS:
        return "aide", HELP
    if keyword not in STATUS_WORDS and len(words) >= 2:
        # No keyword, several words: most likely a question ("prix passeport mali").
        return "question", ask_assistant(sender, text)
    if keyword not in STATUS_WORDS:
        return "inconnue", HELP
    if not rest:
        return "statut", ASK_REFERENCE
    reference = parse_reference("".join(rest))
    dossier = (
        Dossier.objects.filter(reference=reference, applicant__phone=sender)
        .exclude(status=DossierStatus.DRAFT)
        .first()
        if reference
        else None
    )
    return "statut", status_text(dossier) if dossier else NOT_FOUND


def handle(*, sender: str, text: str, provider_id: str = "") -> str:
    """Log an incoming SMS and return the reply ("" for none)."""
    number = sender_number(sender)
    text = text[:500]
    if provider_id:
        earlier = InboundSms.objects.filter(sender=number, provider_id=provider_id).first()
        if earlier is not None:  # the gateway retried the same SMS: same answer, once more
            return earlier.reply
    try:
        consume([(MESSAGES_PER_NUMBER, number)])
    except RateLimited:
        InboundSms.objects.create(
            sender=number, text=text, command="limite", provider_id=provider_id[:100]
        )
        return ""
    command, reply = answer(number, text)
    assert gsm7.fits_sms(reply, channels.SMS_PARTS if command == "question" else 1), reply
    with transaction.atomic():
        InboundSms.objects.create(
            sender=number, text=text, reply=reply, command=command, provider_id=provider_id[:100]
        )
    return reply
