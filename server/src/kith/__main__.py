"""``kith`` command line: ``kith <manage.py command>`` (for example ``kith migrate``, ``kith kith_worker``)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
