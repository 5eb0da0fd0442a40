#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
    if sys.argv[1:2] != ["runserver"]:
        # A one-off command may run without DJANGO_SECRET_KEY (revops/settings.py).
        os.environ.setdefault("DARAMAD_COMMAND_LINE", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
