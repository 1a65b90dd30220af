"""`mnist-exp-ensemble` (`python -m mnist_exp.ensemble`);
the command line of mnist_exp.tools.ensemble."""

import sys

from mnist_exp.tools.ensemble import main

if __name__ == "__main__":
    sys.exit(main())
