"""GroupCare settings, read only from environment variables.

Every variable is documented in ``.env.example`` and the README. Unset, the project runs
as the embedded default: SQLite and a file-system Celery broker under ``var/``, nothing to
install. ``DATABASE_URL`` and ``REDIS_URL`` switch the same code to PostgreSQL and Redis.
With ``DJANGO_DEBUG`` off (the default) the process refuses to start without a real secret
key and an allowed-hosts list.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from groupcare.env import env_bool, env_int, env_list, env_str
from groupcare.static_headers import add_security_headers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("GROUPCARE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)

# --- Secrets and hosts ---------------------------------------------------------------

# Published on purpose: only ever used with DEBUG on, and refused with DEBUG off.
_DEV_SECRET_KEY = "django-insecure-groupcare-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. With DJANGO_DEBUG off GroupCare needs a secret key "
            "of at least 50 random characters, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is too weak: use at least 50 random characters "
        "(and not a 'django-insecure' development key) when DJANGO_DEBUG is off."
    )
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is not set. With DJANGO_DEBUG off list the host names this "
        "server answers to, comma-separated, e.g. DJANGO_ALLOWED_HOSTS=groupcare.example.org."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Applications --------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    # Django's session framework owns the app label "sessions"; ours is "group_sessions".
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_htmx",
    "template_partials",
    "members.apps.MembersConfig",
    "sessions.apps.SessionsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages: the sign-in page it redirects to says why the session ended.
    "members.session_timeouts.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "members.mfa.MFARequiredMiddleware",
    "members.audit_context.AuditContextMiddleware",
    "members.viewer.ViewerTimezoneMiddleware",
]

ROOT_URLCONF = "groupcare.urls"
WSGI_APPLICATION = "groupcare.wsgi.application"
ASGI_APPLICATION = "groupcare.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "members.viewer.viewer_context",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'groupcare.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DJANGO_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The web process and the Celery worker share one file: WAL lets readers go on while
    # one writer works, and IMMEDIATE takes the write lock up front instead of failing
    # half-way through a transaction with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache --------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
# kombu warns about a missing host name on a bare "filesystem://".
EMBEDDED_BROKER_URL = "filesystem://localhost/"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "groupcare",
        }
    }
else:
    # Shared by the web app and the worker of `make run`, unlike a per-process memory cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Authentication ------------------------------------------------------------------

AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "members.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# Accounts are created by the clinic for a known address; there is no self sign-up to verify.
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
# An invitation is allauth's password-reset link: single use (it is bound to the password
# hash and the last login) and valid for three days; setting the password signs the
# invitee in.
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[GroupCare] "

# Brute force: attempts are counted in the cache (Redis in production, shared by every web
# process). Failed logins: 10 a minute from one address, 5 in 5 minutes for one account;
# allauth counts a wrong MFA code against the same "login_failed" limit of the account.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
}

# Multi-factor authentication: a one-time code app (TOTP) or a security key (WebAuthn), with
# recovery codes. Staff must enrol before anything else opens
# (members.mfa.MFARequiredMiddleware); members may opt in.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
# A security key is a second factor after the password, not a password-less sign-in.
MFA_PASSKEY_LOGIN_ENABLED = False
# Security keys work only on HTTPS and on http://localhost (browsers and the server both
# refuse other plain-HTTP origins and IP addresses): with `make run`, open
# http://localhost:8000/ rather than http://127.0.0.1:8000/ to add one.
MFA_TOTP_ISSUER = "GroupCare"
# A code of the 30-second step before or after is accepted too: a phone's clock drifts, and
# a code typed as its step ends must not fail. Each code still works only once.
MFA_TOTP_TOLERANCE = 1
MFA_RECOVERY_CODE_COUNT = 10

# The list of a person's signed-in sessions (allauth.usersessions), recorded at sign-in: a
# sign-out ends them all. Not refreshed on every request (that would be a write per request).
USERSESSIONS_TRACK_ACTIVITY = False

# --- Security ------------------------------------------------------------------------

_BEHIND_TLS_PROXY = env_bool("DJANGO_BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _BEHIND_TLS_PROXY else None
# The rate limits per address must count the visitor's address, not the proxy's (or one
# visitor's failed sign-ins would lock everyone out): behind the proxy it is the entry the
# proxy appends to X-Forwarded-For, this many from the end.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int(
    "GROUPCARE_TRUSTED_PROXY_COUNT", 1 if _BEHIND_TLS_PROXY else 0
)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Health probes come from inside the deployment over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preload lists commit a whole domain to HTTPS for good; only its owner should opt in.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# Every page: scripts, styles and images from this origin only, no inline script or style,
# no plugins, no framing, no <base> rewriting; forms post back here only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
SILENCED_SYSTEM_CHECKS = [
    # security.W021 asks for HSTS preload, which the operator enables with
    # DJANGO_SECURE_HSTS_PRELOAD=true once the domain is ready for the preload list.
    "security.W021",
]

# --- Privacy -------------------------------------------------------------------------

# Automatic logoff, in seconds, by role (members.session_timeouts): a session ends after
# this long without a request (idle) and this long after sign-in whatever happens (absolute).
# Staff are anyone with an admin or facilitator role, or Django admin access.
GROUPCARE_SESSION_IDLE_STAFF = env_int("GROUPCARE_SESSION_IDLE_STAFF", 15 * 60)
GROUPCARE_SESSION_ABSOLUTE_STAFF = env_int("GROUPCARE_SESSION_ABSOLUTE_STAFF", 12 * 3600)
GROUPCARE_SESSION_IDLE_MEMBER = env_int("GROUPCARE_SESSION_IDLE_MEMBER", 30 * 60)
GROUPCARE_SESSION_ABSOLUTE_MEMBER = env_int("GROUPCARE_SESSION_ABSOLUTE_MEMBER", 30 * 86400)
# The cookie never outlives the longest absolute limit.
SESSION_COOKIE_AGE = max(GROUPCARE_SESSION_ABSOLUTE_STAFF, GROUPCARE_SESSION_ABSOLUTE_MEMBER)
# The page warns this many seconds before an idle logoff and offers to stay signed in.
GROUPCARE_SESSION_WARNING = env_int("GROUPCARE_SESSION_WARNING", 60)

# Encryption at rest of clinical free text (groupcare.fields.EncryptedTextField: screening,
# enrolment, stage, cancellation and attendance notes) and of MFA secrets: Fernet keys,
# comma-separated, newest first. The first encrypts; every one decrypts, so a key is
# rotated by putting a new one in front and running `manage.py encryption_rotate`.
# Published on purpose, like the development secret key: refused with DEBUG off.
_DEV_FIELD_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZHVjdGk="
GROUPCARE_FIELD_ENCRYPTION_KEYS = env_list("GROUPCARE_FIELD_ENCRYPTION_KEYS")
if not GROUPCARE_FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "GROUPCARE_FIELD_ENCRYPTION_KEYS is not set. With DJANGO_DEBUG off GroupCare "
            "encrypts clinical notes with a key of your own, e.g. from `python -c 'from "
            "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        )
    GROUPCARE_FIELD_ENCRYPTION_KEYS = [_DEV_FIELD_KEY]
# The MFA secrets (TOTP keys, recovery-code seeds) are encrypted with the same keys.
MFA_ADAPTER = "members.adapters.MFAAdapter"

# Days after a member's last group ended before an admin may anonymise their record.
GROUPCARE_RETENTION_DAYS = env_int("GROUPCARE_RETENTION_DAYS", 7 * 365)

# --- Internationalisation ------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# WhiteNoise answers before the CSP and clickjacking middleware: it adds their headers itself.
WHITENOISE_ADD_HEADERS_FUNCTION = add_security_headers

# --- E-mail --------------------------------------------------------------------------

EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "GroupCare <no-reply@groupcare.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where people reach this installation: links in e-mails and calendar feed URLs start here.
# Unset in production: HTTPS on the first allowed host.
GROUPCARE_BASE_URL = env_str(
    "GROUPCARE_BASE_URL",
    "http://127.0.0.1:8000" if DEBUG else f"https://{ALLOWED_HOSTS[0].lstrip('.')}",
).rstrip("/")

# --- Notifications -------------------------------------------------------------------

# Rows the minute dispatcher hands to one send task (one Celery message per batch).
NOTIFICATIONS_BATCH_SIZE = env_int("GROUPCARE_NOTIFICATIONS_BATCH_SIZE", 100)
# Rows one dispatcher run queues at most; the rest wait for the next minute.
NOTIFICATIONS_DISPATCH_LIMIT = env_int("GROUPCARE_NOTIFICATIONS_DISPATCH_LIMIT", 20_000)
# Sends tried per row (temporary mail errors back off 1, 2, 4… minutes) before it is failed.
NOTIFICATIONS_MAX_ATTEMPTS = env_int("GROUPCARE_NOTIFICATIONS_MAX_ATTEMPTS", 5)
# A row queued this long ago and still pending is queued again (its message was lost).
NOTIFICATIONS_REQUEUE_AFTER_SECONDS = env_int("GROUPCARE_NOTIFICATIONS_REQUEUE_AFTER", 600)
# A row claimed this long ago and still "sending" belonged to a worker that died: it is
# handed back (or failed after the last attempt). Longer than CELERY_TASK_TIME_LIMIT.
NOTIFICATIONS_SENDING_LEASE_SECONDS = env_int("GROUPCARE_NOTIFICATIONS_SENDING_LEASE", 900)

# --- Celery --------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or EMBEDDED_BROKER_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL) or None
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: messages are files under var/, no server to run.
    _BROKER_DIR = VAR_DIR / "celery" / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # Longer than any task may run, so a late-acknowledged task is not redelivered while
    # its first delivery is still working.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(VAR_DIR / "celery" / "beat-schedule")
)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "groupcare.heartbeat", "schedule": 60.0},
    # Nightly (UTC): each active group's sessions up to its horizon.
    "sessions-horizon-extend": {
        "task": "groupcare.sessions.horizon_extend",
        "schedule": crontab(hour=3, minute=17),
    },
    "sessions-waitlist-offers-expire": {
        "task": "groupcare.sessions.waitlist_offers_expire",
        "schedule": 300.0,
    },
    "sessions-complete": {"task": "groupcare.sessions.sessions_complete", "schedule": 300.0},
    # Every minute: queue the outbox rows that are due, in batches.
    "notifications-dispatch": {
        "task": "groupcare.sessions.notifications_dispatch",
        "schedule": 60.0,
    },
    # A safety net under the services that plan reminders as they change things: the next
    # week's sessions are planned again (a preference change, a missed hook), idempotently.
    "reminders-plan-upcoming": {
        "task": "groupcare.sessions.reminders_plan_upcoming",
        "schedule": 600.0,
    },
    # Nightly (UTC): the audit log's hash chain is checked; a break is logged at ERROR.
    "audit-chain-check": {
        "task": "groupcare.members.audit_chain_check",
        "schedule": crontab(hour=2, minute=41),
    },
    # Hourly: each clinic's weekly attendance summaries once it is Monday 07:00 there.
    "summaries-weekly": {
        "task": "groupcare.sessions.summaries_weekly",
        "schedule": crontab(minute=5),
    },
}

# --- REST API ------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Bearer first: its challenge makes an anonymous call a 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "members.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "groupcare.api.PagePagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON in, JSON out: a form-encoded or multipart body is a 415, not a second dialect.
    # (DRF's parser, held to DATA_UPLOAD_MAX_MEMORY_SIZE: a longer body is a 413.)
    "DEFAULT_PARSER_CLASSES": ["groupcare.parsers.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "groupcare.api.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
API_DESCRIPTION = """Schedules, enrolment and attendance for a clinic's therapy groups.

**Sign in.** Send a personal token as `Authorization: Bearer <token>` (the Authorize button
here). An administrator issues one with `python manage.py issue_token EMAIL`; signed in to
GroupCare in this browser, you can create your own with `POST /api/v1/me/tokens/` (it is
shown once). What you see and may do is your role's: a clinic admin their clinic, a
facilitator the groups they run, a member their own groups and record.

**From a new group to its attendance export** (paths under `/api/v1/`): `POST /groups/` →
`PUT /groups/{id}/schedule/` (returns the sessions) → `POST /members/` → `POST /enrolments/` → `POST
/enrolments/{id}/screening/` → `POST /enrolments/{id}/activate/` → `PUT
/groups/{id}/agreement/` and `POST /groups/{id}/agreement/` (the member's acceptance) → `PUT
/sessions/{id}/attendance/` → `GET /exports/attendance/?from=&to=&format=csv`.

**Errors.** 400: each invalid field with its messages. 409: a clinic rule refused it,
`{"detail", "code", "conflict_id"}` (the id of what stands in the way: a double-booked
session, a room of that name…). 404: not found, or not yours to know about. 403: visible
to you, but not yours to change. 401: no valid token.

**Conventions.** JSON in and out. Times are ISO 8601 with the clinic's offset; dates are the
clinic's local dates. Lists are paged: `?page=` and `?page_size=` (at most 200), or for
sessions a cursor (follow `next`)."""

SPECTACULAR_SETTINGS = {
    "TITLE": "GroupCare API",
    "DESCRIPTION": API_DESCRIPTION,
    "TAGS": [
        {
            "name": "me",
            "description": "Who you are, your API tokens, your upcoming sessions, your "
            "reminder preferences and your calendar feed.",
        },
        {"name": "groups", "description": "Groups, their stage, schedule, roster, agreement."},
        {"name": "sessions", "description": "Meetings: move, cancel, attendance, can't attend."},
        {"name": "members", "description": "Client records (clinic staff only)."},
        {"name": "enrolments", "description": "Referral, screening, joining and leaving."},
        {"name": "rooms", "description": "The clinic's rooms."},
        {"name": "modalities", "description": "Therapy modalities: built-in and the clinic's."},
        {"name": "exports", "description": "Attendance for a date range, as CSV or JSON."},
    ],
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: read-only fields are not offered as input.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "groupcare.api.document_query_errors",
    ],
    # Swagger UI is served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging -------------------------------------------------------------------------

# Log records carry ids, not names, e-mail addresses or notes: every handler runs
# groupcare.logging.PHIFilter, which also redacts what a log call lets slip (e-mail
# addresses, constraint values, query strings, tracebacks). Django's own loggers are
# configured here too, so that none keeps a handler of Django's defaults: in particular
# no AdminEmailHandler ("mail_admins"), which would e-mail a traceback with its local
# variables; errors are read in the log, and ADMINS stays empty.
ADMINS: list[tuple[str, str]] = []
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "phi": {"()": "groupcare.logging.PHIFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["phi"]},
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # INFO at most: Django's DEBUG records carry SQL with its values and template
        # contexts.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        # Declared here so that redis-py does not give it an unfiltered handler of its own.
        "push_response": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
# The worker logs through the same handlers (and filter) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- The embedded default's folders --------------------------------------------------

# Create only what this configuration uses, so a production container writes nothing here.
_embedded_dirs = []
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _name = str(DATABASES["default"]["NAME"])
    if _name and _name != ":memory:":
        _embedded_dirs.append(Path(_name).parent)
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    _embedded_dirs.append(Path(CACHES["default"]["LOCATION"]))
if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
    _embedded_dirs.append(Path(EMAIL_FILE_PATH))
if CELERY_BROKER_URL.startswith("filesystem://"):
    _embedded_dirs.append(_BROKER_DIR)
for _dir in _embedded_dirs:
    _dir.mkdir(parents=True, exist_ok=True)
