"""Release management's worker job: every hour, the incidents raised after a release's
roll-out (on its services or the CIs it was deployed to) are linked to its
post-release review. Safe to repeat: a link is made once."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from accord.core.context import acting_as

from . import releases


@db_periodic_task(crontab(minute="41"), retries=2, retry_delay=60)
def link_release_incidents_job():
    with acting_as(None, "job:release-review"):
        return releases.link_all_review_incidents()
