"""The Celery app: Redis broker and results, JSON only, queues `default`, `kpi`, `import`.

Its configuration is the `CELERY_*` block of revops/settings.py; periodic schedules live
in revops/beat.py.
"""

import os

from celery import Celery

from revops.beat import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")

app = Celery("revops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()
