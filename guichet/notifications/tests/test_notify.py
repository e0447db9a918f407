"""Notifications are written with their event and leave only once it is committed."""

from __future__ import annotations

import pytest
from django.db import transaction

from guichet.dossiers import notices
from guichet.notifications import gsm7
from guichet.notifications.models import Notification, OutboxSms
from guichet.notifications.services import deliver, notify

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("event", notices.EVENTS)
def test_every_dossier_notice_fits_one_sms_and_names_only_the_reference(event):
    text = notices.text(event, "ML-7K3Q-9DXC")
    assert gsm7.fits_one_sms(text), (event, len(text))
    assert "ML-7K3Q-9DXC" in text


def test_nothing_leaves_when_the_event_rolls_back(django_user_model):
    user = django_user_model.objects.create_user("a", phone="+22370123456")

    def failing_event() -> None:
        with transaction.atomic():
            notify(user=user, event="dossier.accepted", object_ref="ML-X", text="Guichet : test")
            raise RuntimeError("the event failed")

    with pytest.raises(RuntimeError):
        failing_event()
    assert Notification.objects.count() == 0 and OutboxSms.objects.count() == 0


def test_sent_after_commit_and_only_once(django_user_model):
    user = django_user_model.objects.create_user("a", phone="+22370123456")
    with transaction.atomic():
        notification = notify(
            user=user, event="dossier.accepted", object_ref="ML-X", text="Guichet : test"
        )
        assert OutboxSms.objects.count() == 0  # not before the commit
    assert notification is not None
    assert OutboxSms.objects.count() == 1  # the task ran (immediate backend in tests)
    assert deliver(notification_id=notification.pk) == "sent"  # a retry sends nothing more
    assert OutboxSms.objects.count() == 1


def test_a_person_without_a_number_gets_no_sms(django_user_model):
    user = django_user_model.objects.create_user("sans-numero")
    assert notify(user=user, event="dossier.accepted", object_ref="ML-X", text="x") is None
