"""`mnist-exp-export` (`python -m mnist_exp.export`); the command line of
mnist_exp.exporting.command."""

import sys

from mnist_exp.exporting.command import main

if __name__ == "__main__":
    sys.exit(main())
