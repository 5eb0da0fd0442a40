"""Every periodic schedule of the app, in one place, and the scheduler that runs it once.

The beat process (`celery -A revops beat`) reads `BEAT_SCHEDULE` with
`SingleBeatScheduler`: any number of beat processes may run (a second one for failover, or
one started by mistake), but only the holder of a lock in Redis sends periodic tasks.
Each run is recorded in Redis under that lock before its task is sent, so a beat that takes
over goes on from the last run of the one before: no run is sent twice, and a run that fell
due while no beat held the lock is sent once when one takes it.
"""

import contextlib
import logging
import uuid
from datetime import datetime

import redis
from celery.beat import Scheduler
from celery.schedules import crontab
from django.conf import settings

logger = logging.getLogger(__name__)

BEAT_SCHEDULE = {
    "crm-health-nightly": {
        "task": "crm.tasks.health_refresh_all",
        "schedule": crontab(minute=30, hour=2),
    },
    "crm-renewals-daily": {
        "task": "crm.tasks.renewals_create_due",
        "schedule": crontab(minute=0, hour="*/6"),
    },
    # Catches KPI changes whose refresh was never enqueued (broker down) or was lost, and
    # starts each new day's snapshots within a minute of midnight in the organisation.
    "metrics-kpi-sweep": {
        "task": "metrics.tasks.kpi_refresh",
        "schedule": crontab(minute="*"),
    },
    "metrics-kpi-nightly": {
        "task": "metrics.tasks.kpi_recompute_day",
        "schedule": crontab(minute=45, hour=1),
    },
    # Notifications: SLAs every minute, tasks due every five, goals hourly, and the
    # e-mails whose task was lost (broker down at the commit) every minute.
    "pipeline-handoff-sla-notify": {
        "task": "pipeline.tasks.handoff_sla_notify",
        "schedule": crontab(minute="*"),
    },
    "crm-tasks-due-notify": {
        "task": "crm.tasks.tasks_due_notify",
        "schedule": crontab(minute="*/5"),
    },
    "metrics-goals-off-track-notify": {
        "task": "metrics.tasks.goals_off_track_notify",
        "schedule": crontab(minute=50),
    },
    "revops-notification-emails": {
        "task": "revops.tasks.notification_emails_send",
        "schedule": crontab(minute="*"),
    },
    "revops-bulk-jobs-sweep": {
        "task": "revops.tasks.bulk_jobs_sweep",
        "schedule": crontab(minute="*"),
    },
    "revops-purge-finished-jobs": {
        "task": "revops.tasks.job_purge_finished",
        "schedule": crontab(minute=17, hour=3),
    },
}

# Renews the lock if this process holds it (token compare), else answers 0.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# Records a run only while this process holds the lock: the run is then ours alone.
_CLAIM_RUN = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    redis.call('hset', KEYS[2], ARGV[2], ARGV[3])
    return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class SingleBeatScheduler(Scheduler):
    """A Celery beat scheduler that sends periodic tasks only while it holds a Redis lock.

    The lock lives `BEAT_LOCK_SECONDS` and is renewed at least three times in that span;
    a beat that dies stops renewing, and a standing-by beat takes over when the lock
    expires. The last run of every entry is shared in Redis, not in a local file.
    """

    def __init__(self, *args, **kwargs):
        self.lock_seconds = float(settings.BEAT_LOCK_SECONDS)
        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
        self.lock_key = f"{prefix}daramad:beat:lock"
        self.runs_key = f"{prefix}daramad:beat:last-run"
        self.token = uuid.uuid4().hex
        self.leading = False
        self._claimed = False
        self._redis = None
        super().__init__(*args, **kwargs)

    # --- the lock ------------------------------------------------------------------------

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self.app.conf.broker_url, socket_timeout=5, socket_connect_timeout=2
            )
        return self._redis

    def _lead(self) -> bool:
        """Hold (renew, or take) the lock; True while this beat may send tasks."""
        ttl = int(self.lock_seconds * 1000)
        try:
            if self.leading:
                if self.redis.eval(_RENEW, 1, self.lock_key, self.token, ttl):
                    return True
                logger.warning("beat: the lock was lost; standing by")
                self.leading = False
            if self.redis.set(self.lock_key, self.token, nx=True, px=ttl):
                self.leading = True
                self._take_over()
        except redis.RedisError as error:
            if self.leading:
                logger.warning("beat: Redis does not answer (%s); standing by", error)
            self.leading = False
        return self.leading

    def _take_over(self) -> None:
        """Go on from the runs the previous holder recorded."""
        recorded = self.redis.hgetall(self.runs_key)
        for name, entry in self.schedule.items():
            if stamp := recorded.get(name.encode()):
                entry.last_run_at = datetime.fromisoformat(stamp.decode())
        self._heap = None  # rebuilt from the entries' last runs on the next tick
        logger.info("beat: this beat holds the lock and sends the periodic tasks")

    # --- the scheduler -------------------------------------------------------------------

    def tick(self, *args, **kwargs) -> float:
        renew_every = self.lock_seconds / 3
        if not self._lead():
            return renew_every
        return min(super().tick(*args, **kwargs), renew_every)

    def reserve(self, entry):
        new_entry = super().reserve(entry)
        try:
            self._claimed = bool(
                self.redis.eval(
                    _CLAIM_RUN,
                    2,
                    self.lock_key,
                    self.runs_key,
                    self.token,
                    entry.name,
                    new_entry.last_run_at.isoformat(),
                )
            )
        except redis.RedisError as error:
            logger.warning("beat: could not record the run of %s (%s)", entry.name, error)
            self._claimed = False
        if not self._claimed:
            self.leading = False
        return new_entry

    def apply_entry(self, entry, producer=None):
        # tick() reserves (records) each run just before applying it.
        if self._claimed:
            self._claimed = False
            super().apply_entry(entry, producer=producer)
        else:
            logger.warning("beat: %s not sent, this beat no longer holds the lock", entry.name)

    def close(self) -> None:
        if self.leading:
            with contextlib.suppress(redis.RedisError):  # else it expires by itself
                self.redis.eval(_RELEASE, 1, self.lock_key, self.token)
            self.leading = False
        super().close()

    @property
    def info(self) -> str:
        return f"single beat, lock {self.lock_key} ({self.lock_seconds:g} s)"
