"""`mnist-exp-serve` (`python -m mnist_exp.serve`); the command line of
mnist_exp.serving.serve_command (the 'serve' extra)."""

import sys

from mnist_exp.commands import shown
from mnist_exp.extras import require_for_command


def main(argv=None) -> int:
    require_for_command("serve", shown("serve"))
    from mnist_exp.serving.serve_command import main as serve

    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
