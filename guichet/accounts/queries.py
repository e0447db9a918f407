from __future__ import annotations

from guichet.accounts.models import User


def user_with_phone(phone: str) -> User | None:
    """The account whose mobile number is `phone` (E.164), if any."""
    return User.objects.filter(phone=phone).first()
