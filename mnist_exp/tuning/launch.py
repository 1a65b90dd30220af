"""`mnist-exp-tune-launch` (`python -m mnist_exp.tuning.launch`): the command line of
mnist_exp.distributed.tuner_launch."""

import sys

from mnist_exp.distributed.tuner_launch import main

if __name__ == "__main__":
    sys.exit(main())
