"""Work a web process does once when it starts, in the background, so that no
user's request waits for it (the CMDB's impact graph takes seconds to load for
100,000 CIs). Apps register a callable in ``ready()``; the WSGI entry point starts
them in a thread of each worker process. A request that needs the same thing
meanwhile waits for it rather than doing it twice (that is the callable's own lock).
"""

import logging
import threading

from django.db import connections

log = logging.getLogger(__name__)

_tasks = []


def register(task):
    if task not in _tasks:
        _tasks.append(task)


def start():
    """Run the registered tasks in a daemon thread; returns the thread (None: none)."""
    if not _tasks:
        return None

    def run():
        try:
            for task in list(_tasks):
                try:
                    task()
                except Exception:
                    log.exception("Warm-up task %s failed", getattr(task, "__qualname__", task))
        finally:
            connections.close_all()  # this thread's own connections

    thread = threading.Thread(target=run, name="accord-warmup", daemon=True)
    thread.start()
    return thread
