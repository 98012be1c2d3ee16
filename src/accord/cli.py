"""The ``accord`` command: Django's management commands, plus ``serve`` (web server
and job worker together, for the embedded default) and ``worker`` (jobs alone)."""

import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")
    from django.core.management import execute_from_command_line

    from accord.core.context import acting_as

    with acting_as(None, "cli"):
        execute_from_command_line(["accord", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
