"""Guichet settings: one file, every value from the environment.

Defaults give the embedded set-up (SQLite in WAL mode, files on disk, development SMS
outbox) so that `make run` needs nothing else. Production sets DEBUG=0, SECRET_KEY,
ALLOWED_HOSTS and usually DATABASE_URL.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.conf.locale import LANG_INFO
from django.core.exceptions import ImproperlyConfigured

from guichet.core.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("GUICHET_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-never-use-in-production")
else:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "guichet.core",
    "guichet.accounts",
    "guichet.organisation",
    "guichet.governance",
    "guichet.notifications",
    "guichet.catalog",
    "guichet.formdefs",
    "guichet.dossiers",
    "guichet.workflow",
    "guichet.documents",
    "guichet.assistant",
    "guichet.retention",
    "guichet.privacy",
    "guichet.backups",
    "guichet.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # On FILES_HOST, nothing but signed file links (guichet/web/files.py).
    "guichet.web.files.FilesHostMiddleware",
    "guichet.web.middleware.ContentSecurityPolicyMiddleware",
    "guichet.web.middleware.RejectNulMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sets request.user.is_verified(): this session passed the second factor (staff).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "guichet.urls"
WSGI_APPLICATION = "guichet.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "guichet.web.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite by default, in WAL mode so the web server and the worker can read while one
# writes; IMMEDIATE transactions avoid "database is locked" on lock upgrades.
_sqlite_path = DATA_DIR / "guichet.sqlite3"
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{_sqlite_path}")
try:
    # DB_CONN_MAX_AGE: seconds a connection is kept for the next requests (production: 60,
    # saving ~10 ms a page on PostgreSQL); checked before reuse, so a restarted database
    # costs one retry, not an error page.
    _db = dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] and _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
            " PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
elif _db["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must be sqlite:/// or postgres://.")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background tasks (django.tasks API through the django-tasks backport) -------------
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# --- Authentication -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
# Staff add a second factor: a 6-digit code from an authenticator app (TOTP, django-otp).
# The name the app shows next to the code; the admin never shows a device's secret key.
OTP_TOTP_ISSUER = "Guichet"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Countries whose mobile numbers may sign in (ISO 3166 codes known to `phonenumbers`).
PHONE_COUNTRIES = env_list("PHONE_COUNTRIES", ["ML", "BF", "NE"])

# --- Languages ------------------------------------------------------------------------
# French is the working language; the national languages Django does not ship are
# declared here and get their own compiled catalogs in locale/. Anything they do not
# translate falls back to French (LANGUAGE_CODE), never to the English msgid.
LANGUAGE_CODE = "fr"
NATIONAL_LANGUAGES = {
    "bm": ("Bambara", "Bamanankan"),
    "mos": ("Mooré", "Mòoré"),
    "dyu": ("Dioula", "Jula"),
    "ff": ("Fulfulde", "Fulfulde"),
    "ha": ("Haoussa", "Hausa"),
    "dje": ("Zarma", "Zarmaciine"),
}
for _code, (_name, _local) in NATIONAL_LANGUAGES.items():
    LANG_INFO.setdefault(_code, {"bidi": False, "code": _code, "name": _name, "name_local": _local})
# Languages offered in the interface: those with a catalog in locale/.
LANGUAGES = [
    ("fr", "Français"),
    ("en", "English"),
    ("bm", "Bamanankan"),
    ("mos", "Mòoré"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))

# --- Stored files ------------------------------------------------------------------------
# Attachments are never served by the web server: they live outside any URL and go out
# only through views that check who asks. Default: a folder on disk. Production may use
# an S3-compatible object store through django-storages (`pip install -e '.[s3]'`).
_attachments_backend = env_str("ATTACHMENTS_STORAGE", "django.core.files.storage.FileSystemStorage")
if _attachments_backend == "django.core.files.storage.FileSystemStorage":
    _attachments_options: dict[str, object] = {"location": str(MEDIA_ROOT / "attachments")}
else:
    _attachments_options = {
        "bucket_name": env_str("S3_BUCKET"),
        "endpoint_url": env_str("S3_ENDPOINT_URL", "") or None,
        "region_name": env_str("S3_REGION", "") or None,
        "access_key": env_str("S3_ACCESS_KEY_ID"),
        "secret_key": env_str("S3_SECRET_ACCESS_KEY"),
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": {"BACKEND": _attachments_backend, "OPTIONS": _attachments_options},
}
# Multiplies every rate limit (core/ratelimit.py): 1 in production. Only a load test whose
# clients all come from one address raises it, and its report says so.
RATE_LIMIT_SCALE = float(env_str("RATE_LIMIT_SCALE", "1"))
ATTACHMENT_SCANNER = env_str("ATTACHMENT_SCANNER", "guichet.dossiers.scanning.AcceptAllScanner")
# Production: ATTACHMENT_SCANNER=guichet.dossiers.scanning.ClamdScanner, which streams each
# upload to the ClamAV daemon at CLAMD_ADDRESS (a unix socket path, or host:port).
# CLAMD_MAX_STREAM_BYTES must not exceed clamd's StreamMaxLength (docs/security.md).
CLAMD_ADDRESS = env_str("CLAMD_ADDRESS", "/run/clamav/clamd.ctl")
CLAMD_TIMEOUT = env_int("CLAMD_TIMEOUT", 30, minimum=1)
CLAMD_MAX_STREAM_BYTES = env_int("CLAMD_MAX_STREAM_BYTES", 25 * 1024 * 1024, minimum=1)
# Uploaded files and issued documents served from another site (docs/security.md): the
# host name (with its port if any) of a separate registrable domain, e.g.
# `fichiers-guichet.example`. When set, a download on the main site answers with a
# redirect to a signed link on that host, valid FILES_URL_SECONDS; empty (the default):
# the main site serves files itself.
FILES_HOST = env_str("FILES_HOST", "").strip().lower()
if FILES_HOST:
    if "/" in FILES_HOST or FILES_HOST.partition(":")[0] in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "FILES_HOST is a host name without scheme or path, other than the site's own."
        )
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, FILES_HOST.partition(":")[0]]
FILES_URL_SECONDS = env_int("FILES_URL_SECONDS", 60, minimum=5)

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# HTTPS in production (deploy/production.env.example): redirect plain HTTP, tell browsers
# to come back only over HTTPS (HSTS, a year once the site is sure of its certificate),
# and trust the reverse proxy's X-Forwarded-Proto when it terminates TLS. Off by default
# so that a development server and the tests speak plain HTTP on loopback.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Reverse proxies in front of Guichet that append the client address to X-Forwarded-For
# (0: none, REMOTE_ADDR is the client). Rate limits count per client address.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0, minimum=0)

# --- Notifications ----------------------------------------------------------------------
# Email notices (for citizens who gave an address): SMTP in production
# (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST…); by default
# each message is a file in var/mail/ (development: nothing leaves the machine).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = DATA_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Guichet <ne-pas-repondre@localhost>")
# Dotted path of the SMS backend; the default keeps messages in a table (development).
SMS_BACKEND = env_str("SMS_BACKEND", "guichet.notifications.sms.OutboxSmsBackend")
# Kannel (SMS_BACKEND=guichet.notifications.sms.KannelSmsBackend): its sendsms address and
# a sendsms-user; see docs/sms.md for the gateway's side.
KANNEL_SENDSMS_URL = env_str("KANNEL_SENDSMS_URL", "http://127.0.0.1:13013/cgi-bin/sendsms")
KANNEL_USERNAME = env_str("KANNEL_USERNAME", "guichet")
KANNEL_PASSWORD = env_str("KANNEL_PASSWORD", "")
KANNEL_FROM = env_str("KANNEL_FROM", "")
KANNEL_SMSC = env_str("KANNEL_SMSC", "")
# A generic HTTP provider (SMS_BACKEND=guichet.notifications.sms.HttpAggregatorSmsBackend).
SMS_HTTP_URL = env_str("SMS_HTTP_URL", "")
SMS_HTTP_TOKEN = env_str("SMS_HTTP_TOKEN", "")
# Where the gateway reaches Guichet for delivery reports (default: GUICHET_PUBLIC_URL).
SMS_CALLBACK_BASE_URL = env_str("SMS_CALLBACK_BASE_URL", "")
# Shared secret the gateway adds to incoming-SMS calls (`?token=`); empty: not checked.
SMS_INBOUND_TOKEN = env_str("SMS_INBOUND_TOKEN", "")
USSD_TOKEN = env_str("USSD_TOKEN", "")
# A notification handed to the gateway with no news after this long is tried again.
NOTIFICATION_STALE_SECONDS = env_int("NOTIFICATION_STALE_SECONDS", 120, minimum=1)

# --- Guichet ----------------------------------------------------------------------------
# Where `load_demo` reads the demo procedures from (the project's own copy).
DEMO_PROCEDURES_DIR = BASE_DIR / "demo" / "procedures"
DEMO_ORGANISATION_FILE = BASE_DIR / "demo" / "organisation.yaml"
# The general information line shown when nothing in the catalog fits.
GUICHET_SITE_NAME = env_str("GUICHET_SITE_NAME", "Guichet")
# The public address printed on issued documents and in their QR codes: set it to the
# site's real https:// address in production, or printed codes will point nowhere.
GUICHET_PUBLIC_URL = env_str("GUICHET_PUBLIC_URL", "http://localhost:8000")

# --- Issued documents -------------------------------------------------------------------
# Private signing keys are never in the database: one PEM file per key in this folder
# (back it up apart from the database), or GUICHET_SIGNING_KEY_<KID> variables. An HSM
# store can replace the file store (documents/keys.py, KeyStore).
SIGNING_KEY_STORE = env_str("SIGNING_KEY_STORE", "guichet.documents.keys.FileKeyStore")
SIGNING_KEYS_DIR = Path(env_str("SIGNING_KEYS_DIR", str(DATA_DIR / "keys")))
SIGNING_KEYS_PASSPHRASE = env_str("SIGNING_KEYS_PASSPHRASE", "")

# --- Audit ------------------------------------------------------------------------------
# Signed checkpoints of the audit chain (governance/checkpoints.py): `manage.py
# audit_checkpoint --every 600`, started by `serve`, appends one line to
# checkpoints.jsonl in this folder; copy that file off the machine (docs/governance.md).
# The Ed25519 key is kept out of the database: a PEM file made on first use (mode 0600;
# back it up apart from the database), or AUDIT_CHECKPOINT_KEY (raw key, base64url).
AUDIT_CHECKPOINT_DIR = Path(env_str("AUDIT_CHECKPOINT_DIR", str(DATA_DIR / "audit")))
AUDIT_CHECKPOINT_KEY_FILE = Path(
    env_str("AUDIT_CHECKPOINT_KEY_FILE", str(DATA_DIR / "keys" / "audit-checkpoint.pem"))
)
AUDIT_CHECKPOINT_KEY = env_str("AUDIT_CHECKPOINT_KEY", "")

# --- Sensitive answers --------------------------------------------------------------------
# Answers of fields a procedure marks `sensitive` are stored encrypted (core/sealing.py)
# with the current key of a ring kept out of the database: FIELD_KEYS (its JSON, from a
# secrets manager; or FIELD_KEYS_FILE, a read-only secrets file holding that JSON), else
# the file FIELD_KEY_RING, which `field_keys` manages (mode 0600; back it up apart from the
# database: without it those answers are lost). `manage.py field_keys create` makes the
# file; in development (and tests) it is made on first use.
FIELD_KEYS = env_str("FIELD_KEYS", "")
FIELD_KEY_RING = Path(env_str("FIELD_KEY_RING", str(DATA_DIR / "keys" / "field-keys.json")))
FIELD_KEYS_AUTO_CREATE = env_bool("FIELD_KEYS_AUTO_CREATE", DEBUG)

# --- Assistant --------------------------------------------------------------------------
# Answers come from the catalog by code (docs/assistant.md). The dense ranking is used when
# the `dense` extra is installed, unless turned off here. A language model may phrase
# answers when ASSISTANT_LLM_URL names a local OpenAI-compatible server (off by default);
# code checks every phrasing and keeps the extractive answer when one fails.
ASSISTANT_DENSE = env_bool("ASSISTANT_DENSE", True)
ASSISTANT_LLM_URL = env_str("ASSISTANT_LLM_URL", "")
ASSISTANT_LLM_MODEL = env_str("ASSISTANT_LLM_MODEL", "local")
ASSISTANT_LLM_API_KEY = env_str("ASSISTANT_LLM_API_KEY", "")
ASSISTANT_LLM_TIMEOUT = env_int("ASSISTANT_LLM_TIMEOUT", 20, minimum=1)
ASSISTANT_LOG_RETENTION_DAYS = env_int("ASSISTANT_LOG_RETENTION_DAYS", 180, minimum=1)
# Where a refused question is sent: a phone line or desk per country, e.g.
# ASSISTANT_INFORMATION_LINE_ML="le centre d'appel du service public, 80 00 00 00".
ASSISTANT_INFORMATION_LINES = {
    code: env_str(f"ASSISTANT_INFORMATION_LINE_{code}", "") for code in ("ML", "BF", "NE")
}

# --- Retention --------------------------------------------------------------------------
# Dossiers, their files and messages are kept as each procedure declares
# (`data_protection.retention`, defaults in governance/policy.py); these are the logs that
# belong to no procedure. `manage.py purge` deletes what is due, daily (docs/retention.md).
# Sign-in codes (and the numbers they were sent to), counted from their expiry; also the
# development outbox, which holds codes in clear.
ACCOUNT_CODE_RETENTION_DAYS = env_int("ACCOUNT_CODE_RETENTION_DAYS", 30, minimum=1)
# SMS received (commands, questions) and SMS sent about no dossier (USSD details).
SMS_LOG_RETENTION_DAYS = env_int("SMS_LOG_RETENTION_DAYS", 180, minimum=1)
# Client addresses and queue search terms (often a name) in audit entries: shown as
# "[effacé]" once older (the entries themselves are chained and never change).
AUDIT_DETAILS_RETENTION_DAYS = env_int("AUDIT_DETAILS_RETENTION_DAYS", 365, minimum=1)

# --- Rights requests --------------------------------------------------------------------
# Days the administration has to answer a request on personal data ("Mes données"): the
# laws of the three countries set none we could verify; 30 is their authorities' practice.
PRIVACY_REQUEST_DAYS = env_int("PRIVACY_REQUEST_DAYS", 30, minimum=1)

# --- Backups ----------------------------------------------------------------------------
# `manage.py backup` writes one encrypted archive (database, stored files, manifest) with
# BACKUP_KEY: 32 random bytes in base64url (`manage.py backup --new-key`), kept apart from
# the backups. Private keys go only into `backup --keys`, under BACKUP_KEYS_KEY, which must
# differ (ADR 0015). A backup written into BACKUP_DIR deletes the data archives there older
# than BACKUP_KEEP_DAYS (0: none): backups hold what the purge has deleted since.
BACKUP_KEY = env_str("BACKUP_KEY", "")
BACKUP_KEYS_KEY = env_str("BACKUP_KEYS_KEY", "")
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(DATA_DIR / "backups")))
BACKUP_KEEP_DAYS = env_int("BACKUP_KEEP_DAYS", 30, minimum=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
