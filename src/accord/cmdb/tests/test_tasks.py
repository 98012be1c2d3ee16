"""The CMDB's housekeeping jobs."""

import datetime
import os

from django.core.files.base import ContentFile
from django.utils import timezone

from accord.cmdb.choices import RunStatus
from accord.cmdb.models import ImportRun
from accord.cmdb.tasks import prune_import_files


def test_old_import_files_are_deleted_and_their_runs_kept(world):
    now = timezone.now()

    def run(name, status, days_ago):
        item = ImportRun(kind="cis", filename=name, status=status, created_by=world.admin)
        item.finished_at = None if days_ago is None else now - datetime.timedelta(days=days_ago)
        item.file.save(name, ContentFile(b"name,type\\nsrv,server\\n"), save=False)
        item.save()
        return item

    old = run("old.csv", RunStatus.DONE, 31)
    failed = run("failed.csv", RunStatus.FAILED, 40)
    recent = run("recent.csv", RunStatus.DONE, 2)
    running = run("running.csv", RunStatus.RUNNING, None)
    paths = {r.pk: r.file.path for r in (old, failed, recent, running)}
    assert prune_import_files(now=now) == 2
    assert prune_import_files(now=now) == 0
    for item, kept in ((old, False), (failed, False), (recent, True), (running, True)):
        item.refresh_from_db()
        assert bool(item.file) is kept
        assert item.filename and ImportRun.objects.filter(pk=item.pk).exists()
        assert os.path.exists(paths[item.pk]) is kept
    for item in (recent, running):
        item.file.delete(save=False)
