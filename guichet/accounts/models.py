"""People who sign in: citizens, intermediaries and staff share one user model.

Declared from the first migration so that phone-first sign-in (citizen issue) and staff
roles (back-office issue) extend it without swapping Django's user model later.

A citizen's identity is a mobile number: the account is created the first time a code sent
to it is entered, with an unusable password (ADR 0006). Staff accounts keep a username and
a password, and may have no number.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models

validate_e164 = RegexValidator(
    r"^\+[1-9][0-9]{6,14}$", "Numéro au format international attendu, ex. +22370123456."
)


class User(AbstractUser):
    phone = models.CharField(
        "numéro de mobile",
        max_length=16,
        unique=True,
        null=True,
        blank=True,
        validators=[validate_e164],
    )
    """E.164 (`+22370123456`); NULL for staff accounts without a number."""
    display_name = models.CharField("nom affiché", max_length=150, blank=True)
    # How the person wants to be told (notifications.services.notify). Sign-in codes and
    # the notices the law requires (a request for more, a decision) ignore `notify_by_sms`.
    notify_by_sms = models.BooleanField("avis par SMS", default=True)
    notify_by_email = models.BooleanField("avis par e-mail", default=True)
    """Only when an email address is given."""
    language = models.CharField("langue des avis", max_length=8, default="fr")
    """A code of settings.LANGUAGES; texts without a translation go in French."""


class SignInCode(models.Model):
    """One code sent by SMS to sign in, bound to the browser session that asked for it.

    Only a keyed hash of the code is kept. The code works once, for ten minutes, for at
    most five guesses, and only from the session that requested it: another session's
    wrong guesses cannot kill it (ADR 0006).
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "en attente"
        USED = "used", "utilisé"
        REPLACED = "replaced", "remplacé par un nouveau code"
        EXHAUSTED = "exhausted", "trop d'essais"

    phone = models.CharField(max_length=16, db_index=True)
    """E.164."""
    salt = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    """HMAC-SHA256 of salt, number and code, keyed from SECRET_KEY (`services._hash_code`)."""
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    attempts = models.PositiveSmallIntegerField(default=0)
    """Guesses made on this code, right or wrong."""
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"code {self.pk} ({self.get_status_display()})"
