"""People who sign in: citizens, intermediaries and staff share one user model.

Declared from the first migration so that phone-first sign-in (citizen issue) and staff
roles (back-office issue) extend it without swapping Django's user model later.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    pass
