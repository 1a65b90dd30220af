"""`mnist-exp-launch` (`python -m mnist_exp.launch`);
the command line of mnist_exp.distributed.launch."""

import sys

from mnist_exp.distributed.launch import main

if __name__ == "__main__":
    sys.exit(main())
