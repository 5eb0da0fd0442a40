"""Settings of the processes the fault tests start (gunicorn, Celery workers, beat): the
production settings as they are, but static files served from the source folders, so
that pages render without a `collectstatic` into the checkout's `.data/`."""

from revops.settings import *  # noqa: F403
from revops.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
