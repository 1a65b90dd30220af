"""`mnist-exp-bench` (`python -m mnist_exp.bench`);
the command line of mnist_exp.tools.bench."""

import sys

from mnist_exp.tools.bench import main

if __name__ == "__main__":
    sys.exit(main())
