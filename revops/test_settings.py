"""Test overrides: small and fast, everything else as in production settings."""

import os

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SECURE", "false")
# Each pytest-xdist worker gets its own broker keys, so a test's task is run by the Celery
# worker that the same pytest process started, against the same test database. Set, not
# defaulted: xdist workers inherit the environment of the controller, which loaded these
# settings first.
os.environ["CELERY_KEY_PREFIX"] = (
    f"test-{os.getpid()}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}:"
)

from revops.settings import *  # noqa: F403
from revops.settings import STORAGES

# Argon2 makes every login in a test cost ~50 ms; tests don't need a slow hash.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Manifest storage needs collectstatic before a template renders.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Local memory: no counters or cached pages leak between runs through a shared Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
ALLOWED_HOSTS = ["*"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
