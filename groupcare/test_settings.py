"""Settings for the test suite: the real settings, with test-only safe values filled in.

``DATABASE_URL`` and ``REDIS_URL`` pass through, so the suite runs against PostgreSQL and
Redis when they are set and against SQLite and the embedded broker when they are not.
"""

import os
import tempfile
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault(
    "GROUPCARE_FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWZpZWxkLWtleS10ZXN0LW9ubHktMzI="
)
# Under pytest-xdist each worker (gw0, gw1, ...) gets a Redis database of its own, as it
# gets a test database of its own, so one worker's broker tests never see another's
# messages. Set in the environment, so the worker processes those tests start inherit it.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    _redis = urlsplit(os.environ["REDIS_URL"])
    _db = int(_redis.path.strip("/") or 0) + int(_worker[2:])
    if _db > 15:  # Redis has databases 0-15; wrapping round would share one
        raise RuntimeError(
            f"pytest-xdist worker {_worker} would use Redis database {_db}: start REDIS_URL "
            "at a lower database number or run fewer workers (PYTEST_WORKERS)."
        )
    os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path=f"/{_db}"))

# Keep the embedded broker's and cache's files out of the developer's own var/.
os.environ.setdefault("GROUPCARE_VAR_DIR", tempfile.mkdtemp(prefix="groupcare-test-"))

from groupcare.settings import *  # noqa: E402, F403

# The test client speaks plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# Hashing is not under test; a fast hasher keeps the suite quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Templates are rendered from source; the manifest exists only after collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
