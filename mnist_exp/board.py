"""`mnist-exp-board` (`python -m mnist_exp.board`);
the command line of mnist_exp.reporting.board."""

import sys

from mnist_exp.reporting.board import main

if __name__ == "__main__":
    sys.exit(main())
