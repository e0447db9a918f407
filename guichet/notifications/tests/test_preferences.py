"""The person chooses channels and language; what the law requires still reaches them."""

from __future__ import annotations

import pytest
from django.core import mail

from guichet.dossiers import notices
from guichet.notifications import gsm7, services
from guichet.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user(
        username="p", phone="+22370123456", email="awa@exemple.ml"
    )


def channels(event: str) -> list[str]:
    return list(Notification.objects.filter(event=event).values_list("channel", flat=True))


def test_with_sms_turned_off_only_the_notices_the_law_requires_come_by_sms(person):
    person.notify_by_sms = False
    person.save()
    services.notify(user=person, event="dossier.submitted", object_ref="R", text="Guichet : a")
    services.notify(user=person, event="dossier.rejected", object_ref="R", text="Guichet : b")
    assert channels("dossier.submitted") == ["email"]
    assert sorted(channels("dossier.rejected")) == ["email", "sms"]
    # What the person asks for from their phone (USSD "send me the details") still comes.
    services.notify(user=person, to=person.phone, event="ussd.procedure", object_ref="P",
                    text="Guichet : e")  # fmt: skip
    assert channels("ussd.procedure") == ["sms"]


def test_an_email_notice_goes_through_django_mail_once(person, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(user=person, event="dossier.message", object_ref="ML-X", text="Guichet : c")
    email = Notification.objects.get(channel="email")
    assert email.status == "sent" and email.to == "awa@exemple.ml"
    assert len(mail.outbox) == 1 and mail.outbox[0].body == "Guichet : c"
    assert "ML-X" in mail.outbox[0].subject
    assert services.deliver(notification_id=email.pk) == "sent" and len(mail.outbox) == 1


def test_email_turned_off_or_no_address_sends_none(person):
    person.notify_by_email = False
    person.save()
    services.notify(user=person, event="dossier.message", object_ref="R", text="Guichet : d")
    assert channels("dossier.message") == ["sms"]


@pytest.mark.parametrize("language", ["fr", "en", "bm", "mos"])
@pytest.mark.parametrize("event", notices.EVENTS)
def test_every_notice_in_every_language_fits_one_gsm7_sms(language, event):
    text = notices.text(event, "ML-7K3Q-9DXC", language)
    assert gsm7.fits_one_sms(text) and "ML-7K3Q-9DXC" in text


def test_the_notice_comes_in_the_persons_language(submitted_dossier):
    dossier, _ = submitted_dossier
    dossier.applicant.language = "en"
    dossier.applicant.save()
    notices.tell_applicant(dossier, "dossier.rejected")
    sms = Notification.objects.filter(event="dossier.rejected", channel="sms").get()
    assert sms.text == notices.text("dossier.rejected", dossier.reference, "en")
    assert sms.text != notices.text("dossier.rejected", dossier.reference, "fr")


def test_the_account_page_saves_the_choices(client, person):
    client.force_login(person)
    page = client.get("/mon-compte/").content.decode()
    assert "Recevoir les avis par SMS" in page and "Langue des avis" in page
    response = client.post(
        "/mon-compte/",
        {"display_name": "Awa", "email": "awa@exemple.ml", "notify_by_email": "on",
         "language": "en"},
    )  # fmt: skip
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.notify_by_sms, person.notify_by_email, person.language) == (False, True, "en")
    refused = client.post("/mon-compte/", {"display_name": "", "email": "", "language": "xx"})
    assert refused.status_code == 400
    person.refresh_from_db()
    assert person.language == "en"


def test_a_sign_in_code_goes_through_the_outbox_and_its_text_is_erased_once_sent(
    person, django_capture_on_commit_callbacks
):
    from guichet.accounts.services import request_code
    from guichet.notifications.models import OutboxSms

    person.notify_by_sms = False  # a code is not a notice: it is sent anyway
    person.save()
    with django_capture_on_commit_callbacks(execute=True):
        request_code(phone=person.phone, address="127.0.0.1", replaces=None, actor="test")
    row = Notification.objects.get(event="account.code")
    assert row.status == "sent" and row.text == services.ERASED
    assert OutboxSms.objects.get().to == person.phone  # the phone did get the code
