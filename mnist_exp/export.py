"""`mnist-exp-export` (`python -m mnist_exp.export`); the command line of
mnist_exp.exporting.command (the 'export' extra)."""

import sys

from mnist_exp.commands import shown
from mnist_exp.extras import require_for_command


def main(argv=None) -> int:
    require_for_command("export", shown("export"))
    from mnist_exp.exporting.command import main as export

    return export(argv)


if __name__ == "__main__":
    sys.exit(main())
