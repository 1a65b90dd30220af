"""`mnist-exp-compare` (`python -m mnist_exp.compare`);
the command line of mnist_exp.runs.compare."""

import sys

from mnist_exp.runs.compare import main

if __name__ == "__main__":
    sys.exit(main())
