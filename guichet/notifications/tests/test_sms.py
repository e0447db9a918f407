from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from guichet.notifications import gsm7, sms
from guichet.notifications.checks import check_sms_backend
from guichet.notifications.models import OutboxSms
from guichet.notifications.queries import outbox_messages

SENT: list[tuple[str, str]] = []


class RecordingBackend:
    """A provider stand-in chosen through the SMS_BACKEND setting."""

    def send(self, *, to: str, text: str) -> str:
        SENT.append((to, text))
        return f"rec-{len(SENT)}"


@pytest.mark.django_db
def test_outbox_backend_keeps_the_message_and_returns_an_id():
    message_id = sms.send_sms(to="+22370123456", text="Bonjour")
    message = OutboxSms.objects.get()
    assert message_id == f"outbox:{message.pk}"
    assert (message.to, message.text) == ("+22370123456", "Bonjour")


@pytest.mark.django_db
def test_outbox_lists_newest_first(time_machine):
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    sms.send_sms(to="+22370123456", text="premier")
    time_machine.shift(60)
    sms.send_sms(to="+22670123456", text="second")
    assert [m.text for m in outbox_messages()] == ["second", "premier"]


def test_backend_is_the_one_named_by_the_setting(settings):
    settings.SMS_BACKEND = f"{__name__}.RecordingBackend"
    SENT.clear()
    assert sms.send_sms(to="+22790123456", text="Salut") == "rec-1"
    assert SENT == [("+22790123456", "Salut")]


def test_gsm7_counts_basic_characters_once_and_extension_characters_twice():
    assert len(gsm7.BASIC) == 127  # the 128 codes of GSM 03.38 less the escape
    assert gsm7.septets("Code : 123456. À bientôt") is None  # "ô" is not GSM-7
    assert gsm7.septets("Ne le donnez à personne.") == 24
    assert gsm7.septets("5 €") == 4
    assert gsm7.septets("[x]") == 5


@pytest.mark.parametrize(
    "text",
    [
        "Ne le donnez à personne’",  # typographic apostrophe
        "N'kɛ",  # Bambara open e
        "Prénom : Ibrahîm",  # circumflex
        "Guichet — code",  # em dash
        "Code\u00a0: 123456",  # no-break space
    ],
)
def test_common_non_gsm7_characters_are_caught(text):
    assert not gsm7.is_gsm7(text)
    assert gsm7.non_gsm7_characters(text)


def test_one_sms_is_160_septets():
    assert gsm7.fits_one_sms("a" * 160)
    assert not gsm7.fits_one_sms("a" * 161)
    assert not gsm7.fits_one_sms("€" * 81)  # 162 septets


def test_deploy_check_warns_when_sms_stay_in_the_outbox(settings):
    with pytest.raises(SystemCheckError, match=r"notifications\.W001"):
        call_command("check", deploy=True, fail_level="WARNING", tags=["security"])
    settings.SMS_BACKEND = f"{__name__}.RecordingBackend"
    assert check_sms_backend() == []
