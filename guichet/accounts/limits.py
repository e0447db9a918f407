"""The sign-in limits (ADR 0006 explains each number and why none locks an owner out).

Keys: a number (E.164), an address (`ratelimit.client_ip`: IPv4, or an IPv6 /64), or
both. Guesses are never limited on the number alone: that would let anyone lock a citizen
out by typing wrong codes for their number.
"""

from __future__ import annotations

from datetime import timedelta

from guichet.core.ratelimit import Limit

CODE_LIFETIME = timedelta(minutes=10)
"""ASVS 2.7.2 / 6.5.5: an out-of-band code lives ten minutes at most."""
MAX_GUESSES_PER_CODE = 5
"""After five wrong guesses the code is dead: 5 chances in a million per SMS sent."""

# Sending: each SMS costs money and reaches a real phone (SMS pumping, SMS bombing).
SENDS_PER_NUMBER = Limit("accounts.sends.number", 3, timedelta(minutes=15))
SENDS_PER_NUMBER_DAILY = Limit("accounts.sends.number.day", 10, timedelta(days=1))
# Generous because mobile operators put many subscribers behind one address (CGNAT).
SENDS_PER_ADDRESS = Limit("accounts.sends.address", 10, timedelta(minutes=15))
SENDS_PER_ADDRESS_DAILY = Limit("accounts.sends.address.day", 50, timedelta(days=1))

# Wrong guesses: per (number, address) and per address, never per number alone.
FAILURES_PER_NUMBER_AND_ADDRESS = Limit(
    "accounts.failures.number-address", 10, timedelta(minutes=15)
)
FAILURES_PER_ADDRESS = Limit("accounts.failures.address", 50, timedelta(hours=1))
