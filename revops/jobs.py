"""Running long jobs exactly once at a time, resumable after a crash.

A Celery task that outlives the broker's visibility timeout is handed to a second worker
while the first still runs it; a task whose worker died is handed out again. Both cases
end up here:

- `job_lock(job_id)` takes a session-level Postgres advisory lock keyed on the job. A
  copy that cannot take it returns at once: the job is being run elsewhere. The lock dies
  with the connection, so a killed worker never leaves a job locked.
- The job function receives a `JobContext` and calls `ctx.save_checkpoint(...)` as it
  goes (each call commits on its own); a redelivered copy reads `ctx.checkpoint` and
  continues from there.
"""

import contextlib
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from .models import Job

log = logging.getLogger(__name__)

# Distinguishes job locks from other advisory locks the app may take (a 32-bit namespace).
JOB_LOCK_NAMESPACE = 0x10B


@contextlib.contextmanager
def job_lock(job_id: int):
    """Yield True while this session holds the job's lock, False if another one does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK_NAMESPACE, job_id])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK_NAMESPACE, job_id])


@dataclass
class JobContext:
    job: Job

    @property
    def checkpoint(self) -> dict:
        return self.job.checkpoint

    def save_checkpoint(self, checkpoint: dict, progress: int | None = None) -> None:
        self.job.checkpoint = checkpoint
        fields = ["checkpoint"]
        if progress is not None:
            self.job.progress = progress
            fields.append("progress")
        with transaction.atomic():
            Job.objects.filter(pk=self.job.pk).update(
                **{field: getattr(self.job, field) for field in fields}
            )


def job_run(job_id: int, work) -> str:
    """Run `work(ctx) -> dict` for the job unless it is done or running elsewhere.

    Returns what happened: "done", "failed", "skipped-running" or "skipped-finished".
    """
    with job_lock(job_id) as acquired:
        if not acquired:
            log.info("job %s is running in another worker; this copy exits", job_id)
            return "skipped-running"
        job = Job.objects.get(pk=job_id)
        if job.status in (Job.Status.DONE, Job.Status.FAILED):
            return "skipped-finished"
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.RUNNING,
            attempts=job.attempts + 1,
            started_at=job.started_at or timezone.now(),
        )
        job.refresh_from_db()
        try:
            result = work(JobContext(job))
        except Exception as exc:
            Job.objects.filter(pk=job_id).update(
                status=Job.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
            )
            log.exception("job %s failed", job_id)
            return "failed"
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.DONE, result=result or {}, finished_at=timezone.now()
        )
        return "done"
