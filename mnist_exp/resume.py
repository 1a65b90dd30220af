"""`mnist-exp-resume` (`python -m mnist_exp.resume`);
the command line of mnist_exp.training.resume."""

import sys

from mnist_exp.training.resume import main

if __name__ == "__main__":
    sys.exit(main())
