"""Problem management's worker jobs: trend runs (queued from the trend page, and one
every night) and the hourly escalation of overdue or idle problems."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from accord.core.context import acting_as

from . import escalation, trends


@db_task(retries=2, retry_delay=30, context=True)
def trend_job(run_id, task=None):
    """Analyse a queued trend run (safe to repeat: only a queued run is claimed)."""
    with acting_as(None, "job:trends"):
        trends.run_trends(run_id, last_try=task is None or not task.retries)


@db_periodic_task(crontab(hour="3", minute="20"), retries=1, retry_delay=300)
def nightly_trends_job():
    with acting_as(None, "job:trends"):
        return trends.scheduled_run()


@db_periodic_task(crontab(minute="17"), retries=2, retry_delay=60)
def escalate_problems_job():
    """Raise overdue or idle problems to their owner's manager (hourly)."""
    with acting_as(None, "job:problem-escalation"):
        return escalation.escalate()
