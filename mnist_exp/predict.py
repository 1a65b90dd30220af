"""`mnist-exp-predict` (`python -m mnist_exp.predict`); the command line of
mnist_exp.serving.predict_command."""

import sys

from mnist_exp.serving.predict_command import main

if __name__ == "__main__":
    sys.exit(main())
