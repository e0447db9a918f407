"""The outbox: each notification delivered once, retried with backoff, its history kept,
delivery reports applied only with the right signed address."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from guichet.notifications import services, sms
from guichet.notifications.models import Notification, NotificationStatus, OutboxSms

pytestmark = pytest.mark.django_db


class FlakyBackend:
    """Fails the first `failures` sends, then accepts."""

    failures = 0
    sent: list[str] = []

    def send(self, *, to, text, reference="", callback_url=""):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise sms.SmsError("gateway unreachable")
        FlakyBackend.sent.append(reference)
        return f"flaky:{reference}"


@pytest.fixture
def flaky(settings):
    settings.SMS_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 0
    FlakyBackend.sent = []
    return FlakyBackend


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user(username="p", phone="+22370123456")


def queued(person) -> Notification:
    notification = services.notify(
        user=person, event="dossier.accepted", object_ref="ML-X", text="Guichet : test"
    )
    assert notification is not None
    return notification


def steps(notification) -> list[str]:
    return list(
        NotificationStatus.objects.filter(notification=notification).values_list(
            "status", flat=True
        )
    )


def test_a_failed_attempt_is_retried_later_then_sent_once(person, flaky, time_machine):
    notification = queued(person)
    flaky.failures = 2
    assert services.deliver(notification_id=notification.pk) == "queued"
    notification.refresh_from_db()
    assert notification.attempts == 1 and notification.error == "gateway unreachable"
    assert notification.next_attempt_at is not None
    # Too early: nothing happens, not even an attempt.
    assert services.deliver(notification_id=notification.pk) == "queued"
    assert Notification.objects.get(pk=notification.pk).attempts == 1
    time_machine.move_to(notification.next_attempt_at + timedelta(seconds=1))
    assert services.deliver(notification_id=notification.pk) == "queued"  # second failure
    later = Notification.objects.get(pk=notification.pk)
    assert later.next_attempt_at and notification.next_attempt_at
    assert later.next_attempt_at - notification.next_attempt_at >= timedelta(minutes=1)
    time_machine.move_to(later.next_attempt_at + timedelta(seconds=1))
    assert services.deliver(notification_id=notification.pk) == "sent"
    assert services.deliver(notification_id=notification.pk) == "sent"  # a duplicate task
    assert flaky.sent == [str(notification.pk)]
    assert steps(notification) == [
        "queued",
        *["sending", "queued"] * 2,  # two failed attempts, each queued again
        "sending",
        "sent",
    ]


def test_after_the_last_attempt_it_is_marked_failed(person, flaky, time_machine):
    notification = queued(person)
    flaky.failures = 100
    for _ in range(services.MAX_ATTEMPTS):
        services.deliver(notification_id=notification.pk)
        notification.refresh_from_db()
        if notification.next_attempt_at:
            time_machine.move_to(notification.next_attempt_at + timedelta(seconds=1))
    assert notification.status == "failed" and notification.attempts == services.MAX_ATTEMPTS
    assert services.deliver(notification_id=notification.pk) == "failed"
    assert flaky.sent == []


def test_a_message_stuck_sending_is_settled_by_its_report_or_queued_again(
    person, flaky, time_machine
):
    first, second = queued(person), queued(person)
    Notification.objects.filter(pk__in=[first.pk, second.pk]).update(
        status="sending", attempts=1
    )  # the worker died after marking them, before the gateway answered
    assert services.record_delivery_report(notification_id=first.pk, code=8)
    time_machine.move_to(Notification.objects.get(pk=second.pk).updated_at + timedelta(minutes=3))
    assert services.retry_due() >= 1
    assert Notification.objects.get(pk=first.pk).status == "sent"  # the gateway had it
    second.refresh_from_db()
    assert second.status in ("queued", "sent")  # queued again (or already re-sent)
    services.deliver(notification_id=second.pk)
    assert Notification.objects.get(pk=second.pk).status == "sent"
    assert flaky.sent == [str(second.pk)]  # the first one was never sent twice


class WorkerKilled(BaseException):
    """The task worker dying (SIGKILL, the database going away): nothing catches it."""


def test_the_development_outbox_gets_a_message_once_even_if_the_worker_dies_after_it(
    person, settings, monkeypatch, time_machine
):
    settings.SMS_BACKEND = "guichet.notifications.sms.OutboxSmsBackend"
    notification = queued(person)
    take = sms.OutboxSmsBackend.send

    def take_then_die(self, **kwargs):
        take(self, **kwargs)
        raise WorkerKilled  # after the outbox took it, before the row says so

    monkeypatch.setattr(sms.OutboxSmsBackend, "send", take_then_die)
    with pytest.raises(WorkerKilled):
        services.deliver(notification_id=notification.pk)
    monkeypatch.setattr(sms.OutboxSmsBackend, "send", take)
    time_machine.move_to(Notification.objects.get(pk=notification.pk).updated_at)
    time_machine.shift(services.stale_sending() + timedelta(minutes=1))
    services.retry_due()  # the retrier finds it stuck, or due, and queues it again
    services.deliver(notification_id=notification.pk)
    assert Notification.objects.get(pk=notification.pk).status == "sent"
    assert OutboxSms.objects.count() == 1  # bench/crash.py counts the outbox per dossier


def test_reports_move_a_message_forward_only(person, settings):
    settings.SMS_BACKEND = "guichet.notifications.sms.OutboxSmsBackend"
    notification = queued(person)
    services.deliver(notification_id=notification.pk)
    services.record_delivery_report(notification_id=notification.pk, code=1)
    services.record_delivery_report(notification_id=notification.pk, code=8)  # late ack
    notification.refresh_from_db()
    assert notification.status == "delivered"
    assert steps(notification)[-2:] == ["delivered", "sent"]  # the late report is only kept
    assert not services.record_delivery_report(notification_id=999_999, code=1)


def test_the_report_address_is_signed(client, person, settings):
    settings.SMS_BACKEND = "guichet.notifications.sms.OutboxSmsBackend"
    notification = queued(person)
    services.deliver(notification_id=notification.pk)
    url = urlsplit(services.callback_url(notification.pk)).path
    forged = f"/passerelle/sms/dlr/{notification.pk}/{'0' * 32}/"
    assert client.get(forged, {"status": "2"}).status_code == 404
    assert client.get(url, {"status": "x"}).status_code == 400
    assert Notification.objects.get(pk=notification.pk).status == "sent"
    response = client.get(url, {"status": "1"})
    assert response.status_code == 200
    assert Notification.objects.get(pk=notification.pk).status == "delivered"


def test_the_staff_dossier_page_shows_each_step(client, submitted_dossier, staff_user):
    from guichet.web.tests.staff import verified_login

    dossier, _ = submitted_dossier
    notification = Notification.objects.get(object_ref=dossier.reference)
    services.deliver(notification_id=notification.pk)
    services.record_delivery_report(notification_id=notification.pk, code=1)
    verified_login(client, staff_user)
    page = client.get(f"/instruction/dossiers/{dossier.reference}/").content.decode()
    assert "remis à la passerelle" in page and "reçu par le téléphone" in page


class _Kannel(BaseHTTPRequestHandler):
    """Answers like Kannel's sendsms: 202 "0: Accepted for delivery"."""

    calls: list[dict[str, list[str]]] = []
    answer = (202, "0: Accepted for delivery")

    def do_GET(self):  # noqa: N802 - http.server's name
        _Kannel.calls.append(parse_qs(urlsplit(self.path).query))
        status, body = _Kannel.answer
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_kannel(settings):
    server = HTTPServer(("127.0.0.1", 0), _Kannel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Kannel.calls, _Kannel.answer = [], (202, "0: Accepted for delivery")
    settings.SMS_BACKEND = "guichet.notifications.sms.KannelSmsBackend"
    settings.KANNEL_SENDSMS_URL = f"http://127.0.0.1:{server.server_port}/cgi-bin/sendsms"
    settings.KANNEL_PASSWORD = "secret"
    yield _Kannel
    server.shutdown()
    server.server_close()


def test_the_kannel_backend_asks_for_reports_and_picks_the_coding(person, fake_kannel):
    notification = queued(person)
    assert services.deliver(notification_id=notification.pk) == "sent"
    call = fake_kannel.calls[0]
    assert call["to"] == ["+22370123456"] and call["text"] == ["Guichet : test"]
    assert call["coding"] == ["0"] and call["dlr-mask"] == ["31"]
    assert f"/passerelle/sms/dlr/{notification.pk}/" in call["dlr-url"][0]
    assert call["dlr-url"][0].endswith("?status=%d")
    assert sms.KannelSmsBackend().send(to="+22370123456", text="Ɲɛ") == "kannel"
    assert fake_kannel.calls[-1]["coding"] == ["2"]  # not GSM-7: UCS-2


def test_a_kannel_refusal_or_silence_is_retried(person, fake_kannel, settings):
    notification = queued(person)
    fake_kannel.answer = (403, "Authorization failed for sendsms")
    assert services.deliver(notification_id=notification.pk) == "queued"
    assert "Authorization failed" in Notification.objects.get(pk=notification.pk).error
    settings.KANNEL_SENDSMS_URL = "http://127.0.0.1:9/cgi-bin/sendsms"  # nobody listens
    with pytest.raises(sms.SmsError, match="unreachable"):
        sms.KannelSmsBackend().send(to="+22370123456", text="x")
    settings.KANNEL_SENDSMS_URL = "file:///etc/passwd"
    with pytest.raises(sms.SmsError, match="http"):
        sms.KannelSmsBackend().send(to="+22370123456", text="x")


def test_the_development_outbox_still_keeps_the_text(person, settings):
    settings.SMS_BACKEND = "guichet.notifications.sms.OutboxSmsBackend"
    notification = queued(person)
    services.deliver(notification_id=notification.pk)
    assert OutboxSms.objects.get().text == "Guichet : test"


class _Provider(BaseHTTPRequestHandler):
    """A provider with a simple HTTP API: takes a form POST, answers JSON with an id."""

    calls: list[tuple[dict[str, list[str]], str]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        _Provider.calls.append((parse_qs(body), self.headers.get("Authorization", "")))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "prov-42"}')

    def log_message(self, *args):
        pass


def test_the_http_aggregator_backend_posts_the_message_with_its_token(person, settings):
    server = HTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Provider.calls = []
    settings.SMS_BACKEND = "guichet.notifications.sms.HttpAggregatorSmsBackend"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{server.server_port}/messages"
    settings.SMS_HTTP_TOKEN = "tok"
    try:
        notification = queued(person)
        assert services.deliver(notification_id=notification.pk) == "sent"
    finally:
        server.shutdown()
        server.server_close()
    ((form, authorization),) = _Provider.calls
    assert form["to"] == ["+22370123456"] and form["text"] == ["Guichet : test"]
    assert (
        form["reference"] == [str(notification.pk)]
        and "/passerelle/sms/dlr/" in form["callback_url"][0]
    )
    assert authorization == "Bearer tok"
    assert Notification.objects.get(pk=notification.pk).provider_id == "prov-42"
