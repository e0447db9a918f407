"""SMS commands through the gateway's incoming address, as Kannel's get-url calls it."""

from __future__ import annotations

import pytest

from guichet.notifications import gsm7
from guichet.notifications.commands import MESSAGES_PER_NUMBER
from guichet.notifications.models import InboundSms

pytestmark = pytest.mark.django_db

URL = "/passerelle/sms/entrant/"


def sms(client, sender, text, **extra):
    response = client.get(URL, {"from": sender, "text": text, **extra})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    reply = response.content.decode()
    assert reply == "" or gsm7.fits_one_sms(reply), reply
    return reply


@pytest.mark.parametrize(
    "text",
    ["STATUT {ref}", "statut {ref}", "  Statut   {compact}  ", "SUIVI {ref}", "status {lower}",
     "État {ref}", "STATUT: {ref}", "statut {spaced}"],
)  # fmt: skip
def test_status_by_sms_from_the_dossier_number_in_any_spelling(client, submitted_dossier, text):
    dossier, _ = submitted_dossier
    ref = dossier.reference
    words = {"ref": ref, "compact": ref.replace("-", ""), "lower": ref.lower()}
    words["spaced"] = ref.replace("-", " ")
    reply = sms(client, "22370123456", text.format(**words))  # Kannel's %p: no "+"
    assert reply == f"Guichet : Dossier {ref} : Déposé. Le service l'instruit."


def test_another_number_learns_nothing(client, submitted_dossier):
    dossier, _ = submitted_dossier
    theirs = sms(client, "+22370999999", f"STATUT {dossier.reference}")
    unknown = sms(client, "+22370999999", "STATUT ML-AAAA-AAAA")
    assert theirs == unknown and dossier.reference not in theirs and "aucun dossier" in theirs


def test_help_and_unknown_commands_explain_how(client, db):
    assert "STATUT" in sms(client, "+22370123456", "AIDE")
    assert sms(client, "+22370123456", "bonjour") == sms(client, "+22370123456", "aide")
    assert "référence" in sms(client, "+22370123456", "STATUT")


def test_every_message_is_logged_and_a_retried_one_answered_the_same(client, submitted_dossier):
    dossier, _ = submitted_dossier
    first = sms(client, "+22370123456", f"STATUT {dossier.reference}", id="k-1")
    again = sms(client, "+22370123456", f"STATUT {dossier.reference}", id="k-1")
    assert first == again
    logged = InboundSms.objects.get()
    assert logged.command == "statut" and logged.reply == first and logged.sender == "+22370123456"


def test_a_number_that_sends_too_many_gets_no_more_answers(client, db):
    for _ in range(MESSAGES_PER_NUMBER.limit):
        assert sms(client, "+22370123456", "AIDE") != ""
    assert sms(client, "+22370123456", "AIDE") == ""  # nothing sent: no SMS loop to pay for
    assert sms(client, "+22370111111", "AIDE") != ""  # others are not affected
    assert InboundSms.objects.filter(command="limite").count() == 1


def test_the_gateway_secret_is_checked_when_set(client, db, settings):
    settings.SMS_INBOUND_TOKEN = "s3cret"
    assert client.get(URL, {"from": "+22370123456", "text": "AIDE"}).status_code == 404
    assert sms(client, "+22370123456", "AIDE", token="s3cret") != ""
    assert client.get(URL, {"text": "AIDE", "token": "s3cret"}).status_code == 400


@pytest.mark.parametrize("status", ["submitted", "in_review", "info_requested", "accepted",
                                    "rejected", "closed_without_decision"])  # fmt: skip
def test_each_state_is_told_in_one_gsm7_sms(client, submitted_dossier, status):
    dossier, _ = submitted_dossier
    type(dossier).objects.filter(pk=dossier.pk).update(status=status)
    reply = sms(client, "+22370123456", f"STATUT {dossier.reference}")
    assert reply.startswith(f"Guichet : Dossier {dossier.reference} : ")
    assert "Traoré" not in reply and "Awa" not in reply


def test_the_deploy_check_asks_for_the_gateway_secrets(settings):
    from guichet.notifications.checks import check_gateway_secrets

    settings.SMS_INBOUND_TOKEN, settings.USSD_TOKEN = "", "u"
    assert [w.id for w in check_gateway_secrets()] == ["guichet.notifications.W002"]
    settings.SMS_INBOUND_TOKEN = "s"
    assert check_gateway_secrets() == []
