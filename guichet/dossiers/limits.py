"""How often a citizen may start, fill and submit dossiers (ASVS 11.1.4: anti-automation).

Per account, the real protection: no person starts twenty procedures an hour. Per address,
generous: mobile operators put thousands of subscribers behind one address (CGNAT), and a
cyber-café or a helper at a town hall serves many people from one. A refused request
changes nothing and answers 429 with a plain French message (`web/limited.py`).
"""

from __future__ import annotations

from datetime import timedelta

from guichet.core.ratelimit import Limit

HOUR = timedelta(hours=1)

STARTS_PER_ACCOUNT = Limit("dossiers.starts.account", 20, HOUR)
STARTS_PER_ADDRESS = Limit("dossiers.starts.address", 300, HOUR)
UPLOADS_PER_ACCOUNT = Limit("dossiers.uploads.account", 60, HOUR)
UPLOADS_PER_ADDRESS = Limit("dossiers.uploads.address", 600, HOUR)
# A retry of the same submission counts again: twenty leaves room for a bad connection.
SUBMISSIONS_PER_ACCOUNT = Limit("dossiers.submissions.account", 20, HOUR)
SUBMISSIONS_PER_ADDRESS = Limit("dossiers.submissions.address", 600, HOUR)
MESSAGES_PER_ACCOUNT = Limit("dossiers.messages.account", 30, HOUR)
MESSAGES_PER_ADDRESS = Limit("dossiers.messages.address", 300, HOUR)

STARTS = (STARTS_PER_ACCOUNT, STARTS_PER_ADDRESS)
UPLOADS = (UPLOADS_PER_ACCOUNT, UPLOADS_PER_ADDRESS)
SUBMISSIONS = (SUBMISSIONS_PER_ACCOUNT, SUBMISSIONS_PER_ADDRESS)
MESSAGES = (MESSAGES_PER_ACCOUNT, MESSAGES_PER_ADDRESS)
