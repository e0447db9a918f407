"""pytest plugin loaded with `-p` (see pyproject.toml) before Django reads its settings.

Tests run with DEBUG off, as production does; the few variables production requires are
given test values here unless the caller set them (CI sets DATABASE_URL for PostgreSQL).
"""

import os
import tempfile

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# Files the tests store (attachments, SQLite files of subprocesses) go to a fresh folder,
# never into the developer's var/.
os.environ.setdefault("GUICHET_DATA_DIR", tempfile.mkdtemp(prefix="guichet-tests-"))
# The assistant's dense ranking (the `dense` extra) is tested by its own tests, which turn
# it on; elsewhere the default, lexical assistant is what the tests describe.
os.environ.setdefault("ASSISTANT_DENSE", "0")
# The key ring of sensitive answers is made on first use in the test data folder.
os.environ.setdefault("FIELD_KEYS_AUTO_CREATE", "1")
