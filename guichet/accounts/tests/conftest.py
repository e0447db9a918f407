from __future__ import annotations

from datetime import UTC, datetime

import pytest

from guichet.accounts.tests.inbox import OWNER, last_code

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(time_machine):
    """Time stands still at T0 until a test moves it."""
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def send_code(db, django_capture_on_commit_callbacks):
    """Ask for a code as the sign-in page does, deliver the SMS, return (row, code)."""
    from guichet.accounts import services

    def send(phone=OWNER, *, address="197.155.1.2", replaces=None):
        with django_capture_on_commit_callbacks(execute=True):
            sign_in_code = services.request_code(
                phone=phone, address=address, replaces=replaces, actor=None
            )
        return sign_in_code, last_code(phone)

    return send
