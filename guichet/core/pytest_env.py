"""pytest plugin loaded with `-p` (see pyproject.toml) before Django reads its settings.

Tests run with DEBUG off, as production does; the few variables production requires are
given test values here unless the caller set them (CI sets DATABASE_URL for PostgreSQL).
"""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
