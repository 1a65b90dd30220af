"""`mnist-exp-serve` (`python -m mnist_exp.serve`); the command line of
mnist_exp.serving.serve_command."""

import sys

from mnist_exp.serving.serve_command import main

if __name__ == "__main__":
    sys.exit(main())
